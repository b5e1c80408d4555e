"""The console's record and statistics pages (section Compliance).

- ``/console/compliance/record``: the record of processing activities (GDPR art. 30) of the
  person's districts, as a table, and as ``record.csv`` / ``record.pdf`` downloads; for a
  district administrator or data-protection officer (``hub.services.processing_record``).
- ``/console/compliance/stats?month=YYYY-MM`` (default: last month): the month's figures
  without personal data, and ``chargeback.csv?month=`` the invoice basis per ordering unit;
  for a district administrator only, as ``hub.services.service_stats`` allows.

Every view and download is audited by the service (``exported``), with the person as actor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from hub.console.compliance import BASE, acting_as
from hub.console.web import Console
from hub.csv_text import csv_text
from hub.records.processing import COLUMNS
from hub.services.processing_record import processing_record
from hub.services.service_stats import chargeback, monthly
from hub.services.users import Role
from hub.statistics.chargeback import INVOICE_COLUMNS, invoice_rows

RECORD_COLUMNS = (
    "district",
    "agreement",
    "purposes",
    "data_categories",
    "subject_categories",
    "recipients",
    "retention_days",
    "security_measures",
)


def last_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def csv_download(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    return Response(
        csv_text(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def records_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    @router.get(f"{BASE}/record")
    def record_page(request: Request) -> Response:
        principal = acting_as(console.session_of(request).person)
        record = processing_record(hub, principal)
        return console.render(
            request,
            "compliance_record.html",
            record=record,
            columns=RECORD_COLUMNS,
        )

    @router.get(f"{BASE}/record.csv")
    def record_csv(request: Request) -> Response:
        record = processing_record(hub, acting_as(console.session_of(request).person))
        return csv_download("art30.csv", COLUMNS, (row.values() for row in record.rows))

    @router.get(f"{BASE}/record.pdf")
    async def record_pdf(request: Request) -> Response:
        person = (await run_in_threadpool(console.session_of, request)).person
        record = await run_in_threadpool(processing_record, hub, acting_as(person))
        return Response(
            await run_in_threadpool(record.pdf),
            media_type="application/pdf",
            headers={"Content-Disposition": 'attachment; filename="art30.pdf"'},
        )

    @router.get(f"{BASE}/stats")
    def stats_page(request: Request, month: str = "") -> Response:
        principal = acting_as(console.session_of(request).person, (Role.DISTRICT_ADMIN,))
        shown = month or last_month(datetime.now(UTC))
        return console.render(
            request,
            "compliance_stats.html",
            stats=monthly(hub, principal, shown),
            month=shown,
        )

    @router.get(f"{BASE}/chargeback.csv")
    def chargeback_csv(request: Request, month: str = "") -> Response:
        principal = acting_as(console.session_of(request).person, (Role.DISTRICT_ADMIN,))
        shown = month or last_month(datetime.now(UTC))
        lines = chargeback(hub, principal, shown)
        return csv_download(f"chargeback-{shown}.csv", INVOICE_COLUMNS, invoice_rows(lines))

    return router

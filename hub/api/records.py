"""The art. 30 record over HTTP, with an ``admin`` token (its districts only).

``GET /api/v1/records/art30[?district=D][&format=csv|pdf]``: the record of processing
activities generated from the agreements in force (``omsorgshub records art30``,
``hub.services.processing_record``), CSV by default; audited.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hub.bootstrap import Hub
from hub.csv_text import csv_text
from hub.records.processing import COLUMNS
from hub.services.processing_record import processing_record


def records_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/records", tags=["records"])

    @router.get(
        "/art30",
        summary="The record of processing activities (GDPR art. 30), CSV or PDF",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}},
    )
    async def art30(
        district: Annotated[str | None, Query(max_length=100)] = None,
        format: Annotated[str, Query(pattern="^(csv|pdf)$")] = "csv",
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        record = await run_in_threadpool(processing_record, hub, principal, district=district)
        if format == "pdf":
            return Response(await run_in_threadpool(record.pdf), media_type="application/pdf")
        body = csv_text(COLUMNS, (row.values() for row in record.rows))
        return Response(body, media_type="text/csv; charset=utf-8")

    return router

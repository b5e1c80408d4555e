"""Home-care follow-up statistics over HTTP, with an ``admin`` token (its districts only).

``GET /api/v1/stats/continuity?period=FIRST..LAST&per=district|provider|client[&district=D]``:
the same use case as ``omsorgshub stats continuity`` (``hub.services.homecare_stats``).
Aggregates name no one; ``per=client`` lists pseudonymous references only and is audited
``viewed`` per client. One client's figures by identity number are not offered here (an
identity number does not belong in a URL); the command line has them.

``GET /api/v1/stats/followup?month=YYYY-MM[&district=D]``: per provider, planned vs reported
minutes, manual confirmations and late reports (``omsorgshub stats followup``); the month's
visits are decrypted for it, each audited.

``GET /api/v1/stats/monthly?month=YYYY-MM[&district=D]``: the service's month without personal
data — referrals, lookups, deliveries, callback deadlines (``omsorgshub stats monthly``).
``GET /api/v1/stats/chargeback?month=YYYY-MM[&district=D]``: the invoice basis per ordering
unit (``omsorgshub stats chargeback``); amounts as decimal strings. Both audited
(``hub.services.service_stats``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool

from hub.bootstrap import Hub
from hub.services.homecare_stats import continuity, reported_time
from hub.services.service_stats import chargeback, monthly


def stats_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/stats", tags=["home-care follow-up"])

    @router.get("/continuity", summary="Personnel continuity in home care (staff per client)")
    async def continuity_figures(
        period: Annotated[str, Query(max_length=40, description="FIRST..LAST, inclusive")],
        per: Annotated[str, Query(pattern="^(district|provider|client)$")] = "district",
        district: Annotated[str | None, Query(max_length=100)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        result = await run_in_threadpool(
            continuity, hub, principal, period, per=per, district=district
        )
        return {
            "period": str(result.period),
            "per": result.per,
            "groups": [
                {
                    "district": g.district,
                    "provider": g.provider,
                    "clients": g.clients,
                    "suppressed": g.suppressed,
                    "mean": None if g.mean is None else str(g.mean),
                    "median": None if g.median is None else str(g.median),
                    "max": g.max,
                }
                for g in result.groups
            ],
            "clients": [
                {
                    "district": c.district,
                    "provider": c.provider,
                    "client_ref": c.client_ref,
                    "staff": c.staff,
                }
                for c in result.clients
            ],
        }

    @router.get("/followup", summary="Reported time per provider and month (decrypts, audited)")
    async def followup_figures(
        month: Annotated[str, Query(max_length=7, description="YYYY-MM")],
        district: Annotated[str | None, Query(max_length=100)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        rows = await run_in_threadpool(reported_time, hub, principal, month, district=district)
        return {
            "month": month,
            "providers": [
                {
                    "district": r.district,
                    "provider": r.provider,
                    "visits": r.visits,
                    "planned_minutes": r.planned_minutes,
                    "reported_minutes": r.reported_minutes,
                    "reported_of_planned_percent": None
                    if r.reported_of_planned_percent is None
                    else str(r.reported_of_planned_percent),
                    "manual_percent": str(r.manual_percent),
                    "late": r.late,
                    "late_percent": str(r.late_percent),
                }
                for r in rows
            ],
        }

    @router.get("/monthly", summary="The service's month: referrals, lookups, deliveries")
    async def monthly_figures(
        month: Annotated[str, Query(max_length=7, description="YYYY-MM")],
        district: Annotated[str | None, Query(max_length=100)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        stats = await run_in_threadpool(monthly, hub, principal, month, district=district)
        return {
            "month": stats.month,
            "referrals": [asdict(r) for r in stats.referrals],
            "lookups": [asdict(x) for x in stats.lookups],
            "deliveries": [asdict(d) for d in stats.deliveries],
            "callbacks": [asdict(c) for c in stats.callbacks],
        }

    @router.get("/chargeback", summary="The invoice basis per ordering unit of a month")
    async def chargeback_basis(
        month: Annotated[str, Query(max_length=7, description="YYYY-MM")],
        district: Annotated[str | None, Query(max_length=100)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        lines = await run_in_threadpool(chargeback, hub, principal, month, district=district)
        return {
            "month": month,
            "lines": [
                {
                    "district": x.district,
                    "ordering_unit": x.ordering_unit,
                    "item": x.item,
                    "quantity": x.quantity,
                    "unit_price": None if x.unit_price is None else str(x.unit_price),
                    "amount": str(x.amount),
                    "price_from": None if x.price_from is None else x.price_from.isoformat(),
                }
                for x in lines
            ],
        }

    return router

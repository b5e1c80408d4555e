"""The referral follow-up API (issue 11), with an ``admin`` token: the districts' overdue
callbacks, one referral, and counts per district.

The same use cases as ``omsorgshub referrals …`` (``hub.services.referrals``): the token's
districts bound what is seen (a referral of another district is 404, lists leave it out), the
answers carry no personal data (no name, identity number or case number), and every referral
returned is audited as ``viewed``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool

from hub.bootstrap import Hub
from hub.errors import InputError
from hub.services import referrals as referral_service
from hub.services.referrals import ReferralView


def referral_view(r: ReferralView) -> dict[str, Any]:
    return {
        "id": r.id,
        "district": r.district,
        "urgency": r.urgency,
        "registered_at": r.registered_at.isoformat() if r.registered_at else None,
        "received_at": r.received_at.isoformat(),
        "deadline": r.deadline.isoformat(),
        "state": r.state,
        "late_seconds": round(r.late_seconds),
        "closed_at": r.closed_at.isoformat() if r.closed_at else None,
        "closed_how": r.closed_how,
        "closed_by": r.closed_by,
    }


def _zoned(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    if at.tzinfo is None:
        raise InputError("at: give a time with its offset, e.g. 2026-12-09T08:00:00+01:00")
    try:
        return at.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+01:00 is before the calendar begins
        raise InputError("at: a time the calendar cannot hold") from exc


def referrals_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/referrals", tags=["referral follow-up"])

    @router.get("/overdue", summary="Open referrals past their callback deadline")
    async def overdue(
        district: Annotated[str | None, Query(max_length=100)] = None,
        at: Annotated[datetime | None, Query(description="Judge at this time (now)")] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        moment = _zoned(at)
        rows = await run_in_threadpool(
            lambda: referral_service.overdue_referrals(hub, principal, district=district, at=moment)
        )
        per_district: dict[str, int] = {}
        for r in rows:
            per_district[r.district] = per_district.get(r.district, 0) + 1
        return {"per_district": per_district, "referrals": [referral_view(r) for r in rows]}

    @router.get("/summary", summary="Open, overdue and closed referrals per district")
    async def summary(
        at: Annotated[datetime | None, Query(description="Judge at this time (now)")] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, dict[str, int]]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        moment = _zoned(at)
        return await run_in_threadpool(
            lambda: referral_service.referral_summary(hub, principal, at=moment)
        )

    @router.get("/{referral_id}", summary="One referral's follow-up (by hub message id)")
    async def show(
        referral_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        found = await run_in_threadpool(referral_service.show_referral, hub, principal, referral_id)
        return referral_view(found)

    return router

"""The protected-identity marks over HTTP (issue 15 §4), with an ``admin`` token (its
districts): their status and a sync now.

``GET /api/v1/protected``: per district how many persons are marked now, the case system the
sync asks, when it last ran, whether that failed and how often since the last success
(``hub.services.protected_status``; the read audited ``protection_reported``). Counts only.

``POST /api/v1/protected/sync[?district=D]``: ask the case systems of the token's districts (or
of ``D``) for their lists now, as ``omsorgshub protected sync`` and the relay's timer do
(``hub.services.protected_sync``; every change and every run audited). A district whose case
system fails keeps its marks and is reported in the answer (``ok`` false, the reason code), not
as an HTTP error: the other districts were synced.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool

from hub.bootstrap import Hub
from hub.services.protected_status import protected_status
from hub.services.protected_sync import DistrictSync, sync_protected


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _synced(d: DistrictSync) -> dict[str, Any]:
    return {
        "district": d.district,
        "destination": d.destination,
        "ok": d.ok,
        "reason": None if d.error is None else d.error.reason,
        "listed": d.listed,
        "marked": d.marked,
        "changed": d.changed,
        "lifted": d.lifted,
        "skipped": d.skipped,
    }


def protected_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/protected", tags=["protected identity"])

    @router.get("", summary="Persons marked with protected identity per district, last sync")
    async def status(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        s = await run_in_threadpool(protected_status, hub, principal)
        return {
            "at": s.at.isoformat(),
            "districts": [
                {
                    "district": d.district,
                    "source": d.source,
                    "marked": d.marked,
                    "last_sync": _iso(d.synced_at),
                    "last_sync_ok": d.ok,
                    "last_sync_detail": d.detail,
                    "last_ok": _iso(d.last_ok_at),
                    "failures": d.failures,
                }
                for d in s.districts
            ],
        }

    @router.post("/sync", summary="Sync the marks from the case systems now")
    async def sync(
        district: Annotated[
            str | None, Query(max_length=100, description="Only this district")
        ] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        run = await run_in_threadpool(lambda: sync_protected(hub, principal, district=district))
        return {
            "at": run.at.isoformat(),
            "failed": len(run.failed),
            "districts": [_synced(d) for d in run.districts],
        }

    return router

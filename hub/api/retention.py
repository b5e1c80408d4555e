"""Retention's API (issue 15), with an ``admin`` token: the status, a run (or a dry run), and
legal holds (place, lift, list; a reason required, audited).

The same use cases as ``omsorgshub retention …`` (``hub.services.retention``,
``hub.services.legal_holds``): the token's districts bound what is seen, run and held (a hold
of another district is 404). Counts and keyed hashes only: no personal data in any answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from hub.bootstrap import Hub
from hub.services import legal_holds as hold_service
from hub.services import retention as retention_service
from hub.services.legal_holds import LegalHold


class HoldRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    district: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=1, max_length=200, description="Recorded in the audit trail")
    person: str | None = Field(
        default=None,
        max_length=20,
        description="Only this person's messages: an identity number, stored as its keyed hash",
    )
    scheme: Literal["se", "dk"] = "se"


class Lifting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=200, description="Recorded in the audit trail")


def hold_view(h: LegalHold) -> dict[str, Any]:
    return {
        "id": h.id,
        "district": h.district,
        "scope": "person" if h.subject_ref else "district",
        "subject_ref": h.subject_ref,
        "reason": h.reason,
        "placed_by": h.placed_by,
        "placed_at": h.placed_at.isoformat(),
        "lifted_at": h.lifted_at.isoformat() if h.lifted_at else None,
        "lifted_by": h.lifted_by,
        "lift_reason": h.lift_reason,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def retention_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/retention", tags=["retention"])

    def admin(authorization: str | None) -> Any:
        return hub.authenticator.admin_for(authorization)

    @router.get("", summary="Retention per district, agreement and categories (counts only)")
    async def status(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        principal = await run_in_threadpool(admin, authorization)
        s = await run_in_threadpool(retention_service.retention_status, hub, principal)
        return {
            "at": s.at.isoformat(),
            "rules": [
                {
                    "district": r.district,
                    "agreement": r.agreement_ref,
                    "categories": list(r.categories),
                    "retention_days": r.retention_days,
                    "cutoff": _iso(r.cutoff),
                    "stored": r.stored,
                    "shredded": r.shredded,
                    "due": r.due,
                    "held": r.held,
                    "oldest": _iso(r.oldest),
                }
                for r in s.rules
            ],
        }

    @router.post("/run", summary="Shred every payload past its retention now (or count: dry_run)")
    async def run(
        dry_run: Annotated[bool, Query(description="Count only, change nothing")] = False,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(admin, authorization)
        done = await run_in_threadpool(
            lambda: retention_service.run_retention(hub, principal, dry_run=dry_run)
        )
        return {
            "at": done.at.isoformat(),
            "dry_run": done.dry_run,
            "due": done.due,
            "shredded": done.shredded,
            "rules": [  # per rule: what was due and held when the run began, what it shredded
                {
                    "district": r.district,
                    "agreement": r.agreement_ref,
                    "categories": list(r.categories),
                    "due": r.due,
                    "held": r.held,
                    "shredded": sum(b.count for b in done.batches_of([r])),
                }
                for r in done.rules
            ],
            "batches": [
                {
                    "district": b.district,
                    "agreement": b.agreement_ref,
                    "categories": list(b.categories),
                    "count": b.count,
                    "first_id": b.first_id,
                    "last_id": b.last_id,
                    "retention_days": b.retention_days,
                }
                for b in done.batches
            ],
        }

    @router.get("/holds", summary="Legal holds of the token's districts")
    async def holds(
        all: Annotated[bool, Query(description="Also the lifted ones")] = False,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(admin, authorization)
        rows = await run_in_threadpool(
            lambda: hold_service.list_holds(hub, principal, include_lifted=all)
        )
        return {"holds": [hold_view(h) for h in rows]}

    @router.post("/holds", status_code=201, summary="Place a legal hold (district or person)")
    async def place(
        body: HoldRequest, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(admin, authorization)
        hold = await run_in_threadpool(
            lambda: hold_service.place_hold(
                hub,
                principal,
                body.district,
                reason=body.reason,
                subject=body.person,
                scheme=body.scheme,
            )
        )
        return hold_view(hold)

    @router.post("/holds/{hold_id}/lift", summary="Lift a legal hold, with a reason")
    async def lift(
        hold_id: str, body: Lifting, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(admin, authorization)
        hold = await run_in_threadpool(
            lambda: hold_service.lift_hold(hub, principal, hold_id, reason=body.reason)
        )
        return hold_view(hold)

    return router

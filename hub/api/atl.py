"""The working-time check's API (issue 13), with an ``admin`` token: held payments, their release
or rejection (a reason required, audited), and a month's violations report.

The same use cases as ``omsorgshub atl …`` (``hub.services.atl``): the token's districts bound
what is seen and decided (a held payment of another district is 404).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from hub.bootstrap import Hub
from hub.services import atl as atl_service
from hub.services.atl import HoldRow


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000, description="Recorded in the audit trail")


def hold_view(r: HoldRow) -> dict[str, Any]:
    return {
        "delivery_id": r.delivery_id,
        "message_id": r.message_id,
        "district": r.district,
        "period": {"from": r.period_from, "to": r.period_to},
        "state": r.state,
        "held_at": r.held_at.isoformat(),
        "violations": r.violations,
        "decision": r.decision,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at.isoformat() if r.decided_at else None,
        "reason": r.reason,
    }


def atl_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/atl", tags=["working-time checks"])

    @router.get("/held", summary="Payments held by the working-time check")
    async def held(
        all: Annotated[bool, Query(description="Also the decided ones")] = False,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        rows = await run_in_threadpool(
            lambda: atl_service.held_payments(hub, principal, open_only=not all)
        )
        return {"held": [hold_view(r) for r in rows]}

    @router.post(
        "/held/{delivery_id}/{decision}",
        summary="Release (to UBW, once) or reject (never sent) a held payment, with a reason",
    )
    async def decide(
        delivery_id: str,
        decision: Literal["release", "reject"],
        body: Decision,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        row = await run_in_threadpool(
            lambda: atl_service.decide_payment(
                hub, principal, delivery_id, decision=decision, reason=body.reason
            )
        )
        return hold_view(row)

    @router.get("/report", summary="A month's working-time violations per provider and assistant")
    async def report(
        period: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")],
        district: Annotated[str | None, Query(max_length=100)] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.admin_for, authorization)
        rows = await run_in_threadpool(
            lambda: atl_service.violations_report(hub, principal, period=period, district=district)
        )
        return {"period": period, "violations": [r.__dict__ for r in rows]}

    return router

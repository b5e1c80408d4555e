"""The time-report API (issue 13 §1) for providers' systems, with the system's bearer token.

``POST /api/v1/timereports`` takes a batch of visits as JSON (``hub.timereports.incoming``),
checks it and stores it held: ``202`` with the batch id, or ``422 time_report_refused`` with
every finding (reason, detail, the visit's ``index``) and nothing stored. The provider's own
system approves or rejects a batch; ``GET`` shows its state, the rejection's reason and the
states of its deliveries. The same use cases as ``omsorgshub timereports …``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from hub.bootstrap import Hub
from hub.services.principal import Principal
from hub.services.timereport_approval import BatchStatus, batch_status, decide_batch
from hub.services.timereports import BatchReceipt, report_batch
from hub.timereports.incoming import BatchIn, convert

_PROVIDER = Query(max_length=64, description="The provider (default: the system's own)")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(
        default=None, max_length=64, description="The provider's user who signs (e.g. tl-17)"
    )
    reason: str | None = Field(
        default=None, max_length=1000, description="Why (needed to reject), for the provider"
    )


def receipt_view(r: BatchReceipt) -> dict[str, Any]:
    return {
        "provider": r.provider,
        "batch_id": r.batch_id,
        "district": r.district,
        "state": "held",
        "visits": r.visits,
        "messages": list(r.message_ids),
        "warnings": [w.as_dict() for w in r.warnings],
    }


def status_view(s: BatchStatus) -> dict[str, Any]:
    b = s.batch
    return {
        "provider": b.provider,
        "batch_id": b.batch_id,
        "district": b.district,
        "state": b.state,
        "visits": b.visits,
        "warnings": b.warnings,
        "received_at": b.received_at.isoformat(),
        "decided_at": b.decided_at.isoformat() if b.decided_at else None,
        "decided_by": b.decided_by,
        "reason": b.reason,
        "deliveries": s.deliveries,
    }


def timereports_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/timereports", tags=["time reports"])

    @router.post(
        "",
        status_code=202,
        summary="Report a batch of visits (held until the provider approves it)",
    )
    async def post_batch(
        body: BatchIn, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        sender = await run_in_threadpool(hub.authenticator.system_for, authorization)
        visits, findings = convert(body.visits)
        receipt = await run_in_threadpool(
            lambda: report_batch(
                hub,
                Principal.system(sender),
                sender=sender,
                provider=body.provider,
                visits=visits,
                findings=findings,
                batch_id=body.batch_id,
                district=body.district,
            )
        )
        return receipt_view(receipt)

    @router.get("/batches/{batch_id}", summary="A batch's state, reason and deliveries")
    async def get_batch(
        batch_id: str,
        provider: Annotated[str | None, _PROVIDER] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        sender = await run_in_threadpool(hub.authenticator.system_for, authorization)
        status = await run_in_threadpool(
            batch_status, hub, Principal.system(sender), batch_id, provider
        )
        return status_view(status)

    async def _decide(
        batch_id: str, decision: str, body: Decision, provider: str | None, auth: str | None
    ) -> dict[str, Any]:
        sender = await run_in_threadpool(hub.authenticator.system_for, auth)
        status = await run_in_threadpool(
            lambda: decide_batch(
                hub,
                Principal.system(sender),
                batch_id,
                "approve" if decision == "approve" else "reject",
                provider=provider,
                by=body.by,
                reason=body.reason,
            )
        )
        return status_view(status)

    @router.post("/batches/{batch_id}/approve", summary="Approve a held batch: it is forwarded")
    async def approve(
        batch_id: str,
        body: Decision | None = None,
        provider: Annotated[str | None, _PROVIDER] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return await _decide(batch_id, "approve", body or Decision(), provider, authorization)

    @router.post("/batches/{batch_id}/reject", summary="Reject a held batch, with a reason")
    async def reject(
        batch_id: str,
        body: Decision,
        provider: Annotated[str | None, _PROVIDER] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return await _decide(batch_id, "reject", body, provider, authorization)

    return router

"""The log review API (loggkontroll, issue 15 §2), with a data-protection officer's token
(``systems add --role dpo --district D``): draw a sample, list items, record a verdict, the
coverage report of a period.

The same use cases as ``omsorgshub review …`` (``hub.services.log_review``): the token's
districts bound what is seen (another district's sample or item is 404); every call is audited;
a decided item answers 409 unless the new verdict says why it amends the first.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from hub.bootstrap import Hub
from hub.services import log_review
from hub.services.log_review import RULES, Coverage, ItemRow

_MONTH = r"^[0-9]{4}-[0-9]{2}$"


class SampleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    district: str = Field(min_length=1, max_length=100)
    first_day: date = Field(description="The period's first local day (time_zone)")
    last_day: date = Field(description="The period's last local day, inclusive")
    assign_to: str = Field(min_length=1, max_length=100, description="A user with dpo there")
    random: int | None = Field(default=None, ge=0, le=10_000, description="Random draws")
    rules: list[str] | None = Field(
        default=None, max_length=10, description=f"Rules to apply ({', '.join(RULES)}; all)"
    )


class VerdictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verdict: Literal["ok", "follow_up"]
    note: str | None = Field(default=None, max_length=1000, description="Required to follow up")
    amend_reason: str | None = Field(
        default=None, max_length=500, description="Why this verdict amends an earlier one"
    )


def item_view(i: ItemRow) -> dict[str, Any]:
    return {
        "id": i.id,
        "sample_id": i.sample_id,
        "district": i.district,
        "assigned_to": i.assigned_to,
        "entry": {
            "seq": i.entry_seq,
            "at": i.at,
            "actor": i.actor,
            "action": i.action,
            "outcome": i.outcome,
            "subject_ref": i.subject_ref,
        },
        "rules": i.rules.split(","),
        "note": i.note,
        "verdicts": [
            {
                "revision": v.revision,
                "verdict": v.verdict,
                "note": v.note,
                "amend_reason": v.amend_reason,
                "decided_by": v.decided_by,
                "decided_at": v.decided_at.isoformat(),
            }
            for v in i.verdicts
        ],
    }


def coverage_view(c: Coverage) -> dict[str, Any]:
    return {
        "district": c.district,
        "since": c.since.isoformat(),
        "until": c.until.isoformat(),
        "accesses": c.accesses,
        "picked": c.picked,
        "by_rule": c.by_rule,
        "decided": c.decided,
        "ok": c.ok,
        "follow_up": c.follow_up,
        "open": c.open,
        "amended": c.amended,
    }


def review_router(hub: Hub) -> APIRouter:
    router = APIRouter(prefix="/api/v1/review", tags=["log review"])

    @router.post("/samples", summary="Draw a sample of a district's accesses and assign it")
    async def sample(
        body: SampleBody, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.dpo_for, authorization)
        since, until = log_review.local_period(hub, first=body.first_day, last=body.last_day)
        result = await run_in_threadpool(
            lambda: log_review.sample(
                hub,
                principal,
                district=body.district,
                since=since,
                until=until,
                assign_to=body.assign_to,
                random_count=body.random,
                rules=body.rules or RULES,
            )
        )
        return {
            "id": result.sample.id,
            "district": result.sample.district,
            "assigned_to": result.sample.assigned_to,
            "accesses": result.accesses,
            "by_rule": result.by_rule,
            "items": [item_view(i) for i in result.items],
        }

    @router.get("/items", summary="Review items of the token's districts, with their verdicts")
    async def items(
        sample: Annotated[str | None, Query(max_length=36)] = None,
        district: Annotated[str | None, Query(max_length=100)] = None,
        open: Annotated[bool, Query(description="Only the undecided ones")] = False,
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.dpo_for, authorization)
        found = await run_in_threadpool(
            lambda: log_review.list_items(
                hub, principal, sample_id=sample, district=district, open_only=open
            )
        )
        return {"items": [item_view(i) for i in found]}

    @router.post("/items/{item_id}/verdicts", summary="Record a verdict (ok, follow_up)")
    async def decide(
        item_id: int, body: VerdictBody, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.dpo_for, authorization)
        found = await run_in_threadpool(
            lambda: log_review.decide(
                hub,
                principal,
                item_id,
                verdict=body.verdict,
                note=body.note,
                amend_reason=body.amend_reason,
            )
        )
        return item_view(found)

    @router.get("/report", summary="Coverage of a district's log review in a month")
    async def report(
        district: Annotated[str, Query(min_length=1, max_length=100)],
        month: Annotated[str, Query(pattern=_MONTH)],
        authorization: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        principal = await run_in_threadpool(hub.authenticator.dpo_for, authorization)
        since, until = log_review.local_period(hub, month=month)
        cover = await run_in_threadpool(
            lambda: log_review.coverage_report(
                hub, principal, district=district, since=since, until=until
            )
        )
        return coverage_view(cover)

    return router

"""The console's log review page (loggkontroll), under the Audit section, for data-protection
officers (role ``dpo``).

One page at ``/console/audit/review``: the coverage of a month for one of the officer's
districts (``?district=&month=``, no personal data in the query), a form that draws a sample
and assigns it, and the items of the officer's districts with a verdict form each. A decided
item offers only an amendment, which needs its reason: the service refuses to change a verdict
(409, shown as a page) and records an amendment as a new revision. Every view, sample and
verdict is audited by ``hub.services.log_review`` with the person as actor.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from hub.console.web import Console
from hub.errors import InputError
from hub.services import log_review
from hub.services.principal import Principal
from hub.services.users import Role, principal_for

BASE = "/console/audit/review"
SHOWN = 200  # items the page lists, newest first
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def review_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    def dpo(request: Request) -> Principal:
        return principal_for(console.session_of(request).person, Role.DPO)

    def month_of(text: str | None) -> str:
        if text and _MONTH.fullmatch(text):
            return text
        return datetime.now(UTC).strftime("%Y-%m")

    @router.get(BASE)
    def review_page(request: Request, district: str = "", month: str = "") -> Response:
        principal = dpo(request)
        mine = sorted(principal.districts or ())
        shown_district = district if district in mine else mine[0]
        shown_month = month_of(month)
        since, until = log_review.local_period(hub, month=shown_month)
        cover = log_review.coverage_report(
            hub, principal, district=shown_district, since=since, until=until
        )
        items = log_review.list_items(hub, principal)[-SHOWN:][::-1]
        return console.render(
            request,
            "audit_review.html",
            districts=mine,
            district=shown_district,
            month=shown_month,
            cover=cover,
            items=items,
            me=console.session_of(request).person.name,
            random_size=hub.settings.review_random_size,
        )

    @router.post(f"{BASE}/sample")
    async def draw(request: Request) -> Response:
        principal = dpo(request)
        form = await request.form()
        district, month = _text(form, "district"), _text(form, "month")
        count = _text(form, "random")
        if count and not count.isdigit():
            raise InputError("random: a whole number", reason="form_invalid")
        since, until = log_review.local_period(hub, month=month)
        await run_in_threadpool(
            lambda: log_review.sample(
                hub,
                principal,
                district=district,
                since=since,
                until=until,
                assign_to=_text(form, "assign_to"),
                random_count=int(count) if count else None,
            )
        )
        return console.redirect(f"{BASE}?district={district}&month={month}")

    @router.post(BASE + "/items/{item_id}")
    async def verdict(request: Request, item_id: int) -> Response:
        principal = dpo(request)
        form = await request.form()
        await run_in_threadpool(
            lambda: log_review.decide(
                hub,
                principal,
                item_id,
                verdict=_text(form, "verdict"),
                note=_text(form, "note"),
                amend_reason=_text(form, "amend_reason"),
            )
        )
        return console.redirect(BASE)

    return router

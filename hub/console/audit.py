"""The console's Audit pages, for data-protection officers (role ``dpo``).

Search the trail by person, actor, action, district, message and time; one entry's detail;
the trail's state (last verification, the age of the last signed checkpoint, entries not yet
signed) and a verification started from the page; a person's art. 15 extract as PDF or CSV.

A person is searched by an identity number typed into a POSTed form: the service turns it into
its keyed hash (``hub.services.audit_queries``), so the number never appears in a URL, in the
server's request log or in a stored search. The search answers the POST itself (results in the
page, not behind a redirect with a query string); the extract buttons belong to the same form.
Every search, every entry viewed and every extract is audited by the service with the person as
actor, scoped to the districts of the person's ``dpo`` role.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from hub.console.web import Console
from hub.errors import InputError
from hub.services.audit_integrity import trail_status, verify_now
from hub.services.audit_queries import (
    AUDIT_ACTIONS,
    AuditFilter,
    audit_entry,
    report_document,
    search_audit,
)
from hub.services.principal import Principal
from hub.services.users import Role, principal_for

BASE = "/console/audit"
SHOWN = 200  # entries a search shows, newest first
_FIELDS = ("subject", "scheme", "actor", "action", "district", "message_id", "since", "until")
_EXTRACTS = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}


def form_moment(text: str, name: str) -> datetime | None:
    """A ``datetime-local`` field, read as UTC (the page says so)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"{name}: {text!r} is not a date and time", reason="form_invalid"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    def dpo(request: Request) -> Principal:
        """The person signed in, as the principal of the role these pages need (403 without)."""
        return principal_for(console.session_of(request).person, Role.DPO)

    def page(
        request: Request,
        principal: Principal,
        fields: dict[str, str],
        *,
        found: Sequence[object] | None = None,
        problem: str | None = None,
    ) -> Response:
        state = trail_status(hub, principal)
        return console.render(
            request,
            "audit_search.html",
            status_code=422 if problem else 200,
            fields=fields,
            found=found,
            shown=SHOWN,
            problem=problem,
            actions=AUDIT_ACTIONS,
            districts=sorted(principal.districts or ()),
            state=state,
            checkpoint_age=state.checkpoint_age(datetime.now(UTC)),
        )

    @router.get(BASE)
    def audit_home(request: Request) -> Response:
        return page(request, dpo(request), {"scheme": "se"})

    @router.post(f"{BASE}/search")
    async def audit_search(request: Request) -> Response:
        principal = dpo(request)
        form = await request.form()
        fields = {n: v.strip() for n in _FIELDS if isinstance(v := form.get(n), str)}
        doing = form.get("do")
        try:
            if doing in _EXTRACTS:
                return await _extract(principal, fields, str(doing))
            query = AuditFilter(
                subject=fields.get("subject") or None,
                scheme=fields.get("scheme") or "se",
                actor=fields.get("actor") or None,
                action=fields.get("action") or None,
                district=fields.get("district") or None,
                message_id=fields.get("message_id") or None,
                since=form_moment(fields.get("since", ""), "since"),
                until=form_moment(fields.get("until", ""), "until"),
                limit=SHOWN,
                newest_first=True,
            )
            found = await run_in_threadpool(search_audit, hub, principal, query)
        except InputError as exc:
            problem = exc.detail
            return await run_in_threadpool(
                lambda: page(request, principal, fields, problem=problem)
            )
        return await run_in_threadpool(lambda: page(request, principal, fields, found=found))

    async def _extract(principal: Principal, fields: dict[str, str], fmt: str) -> Response:
        subject = fields.get("subject")
        if not subject:
            raise InputError("an extract is of one person: type the identity number")
        body = await run_in_threadpool(
            report_document, hub, principal, subject, fields.get("scheme") or "se", fmt
        )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        return Response(
            body,
            media_type=_EXTRACTS[fmt],
            headers={
                "Content-Disposition": f'attachment; filename="registerutdrag-{stamp}.{fmt}"',
                "Cache-Control": "no-store",
            },
        )

    @router.post(f"{BASE}/verify")
    def verify(request: Request) -> Response:
        verify_now(hub, dpo(request))  # recorded in the trail; the page shows the outcome
        return console.redirect(BASE)

    @router.get(BASE + "/entries/{seq}")
    def entry(request: Request, seq: int) -> Response:
        found = audit_entry(hub, dpo(request), seq)
        return console.render(request, "audit_entry.html", entry=found)

    return router

"""The console's Messages pages, for operators (role ``operator``): counts per destination and
state that refresh, dead letters with their reasons, replay with a reason, one message as a
tree of its deliveries and their attempts, and the payload view behind a typed reason.

The search and the saved filters are in ``hub.console.messages_search``. Every call goes
through ``hub.services`` as the principal of the person's ``operator`` role, scoped to its
districts: another district's message is a 404 there, and lists never hold one. These pages
show metadata (ids, types, states, reason codes, times); the one page with personal data, the
payload, is shown only for a POSTed reason and audited by ``view_payload`` (``viewed``, the
person as actor, the reason kept). A replay is audited by ``replay_deliveries``
(``replayed``) and re-authorized against the agreement in force at its next attempt.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from hub.console.web import Console
from hub.errors import InputError
from hub.services.message_search import (
    FINAL_STATES,
    OPEN_STATES,
    count_states,
    dead_letters,
    message_tree,
)
from hub.services.messages import replay_deliveries, show_message, view_payload
from hub.services.principal import Principal
from hub.services.users import Role, principal_for

BASE = "/console/messages"
COUNT_WINDOW = timedelta(hours=24)  # final states are counted over the last day
DEAD_SHOWN = 200


def operator_of(console: Console, request: Request) -> Principal:
    """The person signed in, as the principal of the operator role (403 without it)."""
    return principal_for(console.session_of(request).person, Role.OPERATOR)


def messages_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    @router.get(BASE)
    def overview(request: Request) -> Response:
        principal = operator_of(console, request)
        counted = count_states(hub, principal, COUNT_WINDOW)
        dead = dead_letters(hub, principal, limit=1)
        return console.render(
            request,
            "messages_overview.html",
            counts=counted,
            states=(*OPEN_STATES, *FINAL_STATES),
            dead_total=dead.total,
            refresh=hub.settings.console_refresh_seconds,
        )

    @router.get(f"{BASE}/dead")
    def dead(request: Request, destination: str = "") -> Response:
        principal = operator_of(console, request)
        found = dead_letters(hub, principal, destination=destination or None, limit=DEAD_SHOWN)
        return console.render(
            request,
            "messages_dead.html",
            dead=found,
            destination=destination,
            done=request.query_params.get("done", ""),
        )

    @router.post(f"{BASE}/replay")
    async def replay(request: Request) -> Response:
        principal = operator_of(console, request)
        form = await request.form()
        ids = [v for v in form.getlist("delivery_id") if isinstance(v, str) and v]
        reason = form.get("reason")
        back = form.get("back")
        if not ids:
            raise InputError("choose at least one delivery to replay", reason="form_invalid")
        done = await run_in_threadpool(
            replay_deliveries,
            hub,
            principal,
            ids,
            reason=reason if isinstance(reason, str) else "",
        )
        target = back if isinstance(back, str) and _inside(back) else f"{BASE}/dead"
        return console.redirect(f"{target}?done=replayed-{done.replayed}-{len(done.skipped)}")

    @router.get(BASE + "/{message_id}")
    def one(request: Request, message_id: str) -> Response:
        tree = message_tree(hub, operator_of(console, request), message_id)
        return console.render(
            request,
            "messages_detail.html",
            tree=tree,
            done=request.query_params.get("done", ""),
        )

    def payload_page(
        request: Request,
        message_id: str,
        *,
        document: str | None = None,
        reason: str = "",
        problem: str | None = None,
    ) -> Response:
        return console.render(
            request,
            "messages_payload.html",
            status_code=422 if problem else 200,
            message_id=message_id,
            document=document,
            reason=reason,
            problem=problem,
        )

    @router.get(BASE + "/{message_id}/payload")
    def payload_form(request: Request, message_id: str) -> Response:
        show_message(hub, operator_of(console, request), message_id)  # 404 outside the scope
        return payload_page(request, message_id)

    @router.post(BASE + "/{message_id}/payload")
    async def payload(request: Request, message_id: str) -> Response:
        principal = operator_of(console, request)
        form = await request.form()
        typed = form.get("reason")
        reason = typed.strip() if isinstance(typed, str) else ""
        try:
            body = await run_in_threadpool(
                view_payload, hub, message_id, actor=principal, reason=reason
            )
        except InputError as exc:  # no reason: the form again, nothing shown, nothing audited
            return payload_page(request, message_id, problem=exc.detail)
        text = body.decode("utf-8", errors="replace")
        return payload_page(request, message_id, document=text, reason=reason)

    return router


def _inside(path: str) -> bool:
    """A ``back`` path the replay may return to: a Messages page of this console."""
    return path.startswith(BASE) and "//" not in path and "?" not in path

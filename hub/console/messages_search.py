"""The console's message search and an operator's saved filters (role ``operator``).

Search by state, destination, type and time (default: the last 24 hours) and by one business
key a message type declares (a case number, an invoice or OCR number, the sender's message
id), a page at a time (a keyset cursor: the next page costs what the first did, at any
depth). The key's value is typed into a POSTed form: it never appears in a URL or the server's
request log, and the service compares it as the keyed HMAC it was stored as. Links from the
counts (state and destination, no one's data) are plain GETs, and so is a saved filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from hub.console.audit import form_moment as moment
from hub.console.messages import BASE, operator_of
from hub.console.web import Console
from hub.errors import InputError
from hub.services.message_search import (
    FINAL_STATES,
    OPEN_STATES,
    MessageFilter,
    key_names,
    message_types,
    search_messages,
    visible_destinations,
)
from hub.services.principal import Principal
from hub.services.saved_filters import (
    SavedFilter,
    delete_filter,
    save_filter,
    saved_filter,
    saved_filters,
)

SEARCH = f"{BASE}/search"
FIELDS = ("since", "until", "state", "destination", "type", "key_name", "key_value", "cursor")
DEFAULT_HOURS = 24
_MINUTE = "%Y-%m-%dT%H:%M"  # a datetime-local field's value


def _fields(form: Mapping[str, object]) -> dict[str, str]:
    return {n: v.strip() for n in FIELDS if isinstance(v := form.get(n), str)}


def _cursor(text: str) -> tuple[datetime, str] | None:
    if not text:
        return None
    at, _, last_id = text.partition("|")
    try:
        return datetime.fromisoformat(at), last_id
    except ValueError:
        raise InputError("the page cursor is not one this console made") from None


def _filter(fields: Mapping[str, str]) -> MessageFilter:
    return MessageFilter(
        since=moment(fields.get("since", ""), "since"),
        until=moment(fields.get("until", ""), "until"),
        state=fields.get("state") or None,
        destination=fields.get("destination") or None,
        message_type=fields.get("type") or None,
        key_name=fields.get("key_name") or None,
        key_value=fields.get("key_value") or None,
        before=_cursor(fields.get("cursor", "")),
    )


def _window(now: datetime, hours: int) -> str:
    return (now - timedelta(hours=hours)).astimezone(UTC).strftime(_MINUTE)


def search_router(console: Console) -> APIRouter:
    router = console.router()
    hub = console.hub

    def page(
        request: Request, principal: Principal, fields: dict[str, str], status: int = 200
    ) -> Response:
        problem = None
        found = None
        try:
            found = search_messages(hub, principal, _filter(fields))
        except InputError as exc:
            problem, status = exc.detail, 422
        next_cursor = ""
        if found is not None and found.next_cursor is not None:
            at, last_id = found.next_cursor
            next_cursor = f"{at.isoformat()}|{last_id}"
        return console.render(
            request,
            "messages_search.html",
            status_code=status,
            fields=fields,
            found=found,
            next_cursor=next_cursor,
            problem=problem,
            states=(*OPEN_STATES, *FINAL_STATES),
            destinations=visible_destinations(hub, principal),
            types=message_types(hub),
            keys=list(key_names(hub)),
            saved=saved_filters(hub, principal),
            done=request.query_params.get("done", ""),
        )

    @router.get(SEARCH)
    def search_get(
        request: Request, state: str = "", destination: str = "", type: str = "", name: str = ""
    ) -> Response:
        principal = operator_of(console, request)
        hours = DEFAULT_HOURS
        fields = {"state": state, "destination": destination, "type": type}
        if name:
            chosen = saved_filter(hub, principal, name)
            hours = chosen.hours
            fields = {
                "state": chosen.state,
                "destination": chosen.destination,
                "type": chosen.message_type,
                "key_name": chosen.key_name,
            }
        fields["since"] = _window(hub.clock(), hours)
        return page(request, principal, fields)

    @router.post(SEARCH)
    async def search_post(request: Request) -> Response:
        principal = operator_of(console, request)
        form = await request.form()
        fields = _fields(form)
        if form.get("do") != "next":
            fields["cursor"] = ""  # a new search starts at the newest
        return await run_in_threadpool(page, request, principal, fields)

    @router.post(f"{BASE}/filters")
    async def save(request: Request) -> Response:
        principal = operator_of(console, request)
        form = await request.form()
        fields = _fields(form)
        name = form.get("save_name")
        since = moment(fields.get("since", ""), "since")
        until = moment(fields.get("until", ""), "until") or hub.clock()
        hours = max(1, round((until - since).total_seconds() / 3600)) if since else DEFAULT_HOURS
        wanted = SavedFilter(
            name=name.strip() if isinstance(name, str) else "",
            hours=hours,
            state=fields.get("state", ""),
            destination=fields.get("destination", ""),
            message_type=fields.get("type", ""),
            key_name=fields.get("key_name", ""),
        )
        await run_in_threadpool(save_filter, hub, principal, wanted)
        return console.redirect(f"{SEARCH}?done=saved")

    @router.post(f"{BASE}/filters/delete")
    async def delete(request: Request) -> Response:
        principal = operator_of(console, request)
        form = await request.form()
        name = form.get("name")
        await run_in_threadpool(
            delete_filter, hub, principal, name if isinstance(name, str) else ""
        )
        return console.redirect(f"{SEARCH}?done=deleted")

    return router

"""What ``POST /api/v1/messages`` checks before the pipeline sees a byte: media type and size.

- **Media type.** ``application/xml`` or ``text/xml`` only (RFC 7303), not any ``*+xml``: an
  ``image/svg+xml`` is not an envelope. A ``charset`` parameter may say UTF-8 (the envelope's
  encoding); any other is refused with 415 and the reason, rather than parsed as something the
  sender did not mean.
- **Size.** The body is read up to ``max_message_bytes``. Past that the answer is 413, but a
  client that is still sending would not see it: the server would close a connection the
  client is still writing to, and a plain client (urllib) reports "connection reset" instead of
  the 413. So the rest of an oversize body is read and thrown away, up to ``max_drain_bytes``,
  before answering; the answer says ``Connection: close``. Beyond that budget the connection is
  closed anyway: reading gigabytes to be polite is a denial of service.

**In front of the framework.** ``IngestFastPath`` answers ``POST /api/v1/messages`` before
Starlette's exception middleware, FastAPI's router and its per-request dependency machinery
see it, and hands the ingest to a thread pool of its own (``loop.run_in_executor``) instead of
anyio's: in a GIL profile of ``serve`` at its limit, the event loop held the GIL 44 % of the
time, a third of that in those layers and in anyio's thread hop (capacity limiter, cancel
scopes), none of which this one route uses. The route stays declared in FastAPI (OpenAPI; any
variant of the path the fast path does not take, such as a trailing slash) and both answer
through ``answer_ingest``, so the two cannot drift. ``RequestLatency`` still observes it: the
fast path sits inside that middleware and names the route in the scope as the router would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.api.logs import event
from hub.api.problems import problem, problem_responses
from hub.bootstrap import Hub
from hub.errors import HubError, InputError, PayloadTooLarge, UnsupportedMediaType, policy_for

INGEST_PATH = "/api/v1/messages"
XML_TYPES = ("application/xml", "text/xml")
# Threads that run ingests for the API, shared by every app of the process (as anyio's pool
# is). Each holds a request while group commit gathers its batch, so there must be more than
# the concurrent senders one batch should gather: anyio's default was 40.
INGEST_THREADS = 64
T = TypeVar("T")
_executor: ThreadPoolExecutor | None = None
_UTF8 = {"utf-8", "utf8"}

INGEST_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            media: {
                "schema": {"type": "string", "format": "binary"},
                "example": "<Envelope xmlns='urn:omsorgshub:envelope:1'>…</Envelope>",
            }
            for media in XML_TYPES
        },
    },
}
INGEST_RESPONSES = {
    202: {
        "description": "Accepted: stored encrypted, deliveries scheduled.",
        # An OpenAPI link: the answer's id is what GET /api/v1/messages/{message_id} takes
        # (clients and schemathesis's stateful mode follow it).
        "links": {
            "GetMessage": {
                "operationRef": "#/paths/~1api~1v1~1messages~1{message_id}/get",
                "parameters": {"message_id": "$response.body#/id"},
                "description": "The message's state and its deliveries.",
            }
        },
    },
    **problem_responses(400, 401, 403, 409, 413, 415, 422, 503),
}


def check_media_type(content_type: str | None) -> None:
    """Refuse anything but XML in UTF-8, saying why (415)."""
    media, *params = (content_type or "").split(";")
    media = media.strip().lower()
    if media not in XML_TYPES:
        shown = media or "none"
        raise UnsupportedMediaType(
            f"Content-Type must be application/xml or text/xml, not {shown!r}"
        )
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if name == "charset" and value not in _UTF8:
            raise UnsupportedMediaType(
                f"charset {value!r} is not accepted: send the envelope in UTF-8 "
                "(charset=utf-8, or no charset)"
            )


async def read_body(request: Request, limit: int, drain_limit: int) -> bytes:
    """The body, at most ``limit`` bytes; else ``PayloadTooLarge`` once the rest is drained."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        await _drain(request, drain_limit)
        raise PayloadTooLarge(f"the envelope is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await request.receive()
        if message["type"] != "http.request":
            raise InputError("the body ended early: the client went away", reason="body_incomplete")
        chunk = message.get("body", b"")
        more = bool(message.get("more_body", False))
        size += len(chunk)
        if size > limit:
            if more:
                await _drain(request, drain_limit - size)
            raise PayloadTooLarge(f"the envelope exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _drain(request: Request, budget: int) -> None:
    """Read and discard what is left of the request body, at most ``budget`` bytes."""
    received = 0
    while received <= budget:
        message = await request.receive()
        if message["type"] != "http.request":
            return  # the client went away
        received += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def in_thread(call: Callable[[], T]) -> T:
    """``call()`` in the API's ingest threads, awaited without blocking the event loop."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(INGEST_THREADS, thread_name_prefix="api-ingest")
    return await asyncio.get_running_loop().run_in_executor(_executor, call)


async def answer_ingest(hub: Hub, request: Request) -> Response:
    """The whole answer to ``POST /api/v1/messages``: 202 with the stored message's id and its
    deliveries, or the problem that says why not (logged either way, without personal data)."""
    sender: str | None = None
    try:
        authorization = request.headers.get("authorization")
        sender = hub.authenticator.cached_system(authorization)
        if sender is None:  # not cached: the registry is read in a thread
            sender = await in_thread(lambda: hub.authenticator.system_for(authorization))
        check_media_type(request.headers.get("content-type"))
        data = await read_body(
            request, hub.settings.max_message_bytes, hub.settings.max_drain_bytes
        )
        who = sender  # a str from here on, bound for the thread's call
        result = await in_thread(lambda: hub.ingestor.ingest(who, data))
    except HubError as exc:
        status = policy_for(exc).http_status
        event("refused", sender=sender, status=status, reason=exc.reason)
        # an oversize body was not read to its end: the connection cannot be reused
        close = {"Connection": "close"} if isinstance(exc, PayloadTooLarge) else None
        return problem(exc, request.scope["path"], headers=close)
    event(
        "accepted",
        message_id=result.message_id,
        sender=sender,
        deliveries=len(result.deliveries),
        duplicate=result.duplicate,
    )
    headers = {"Location": f"{INGEST_PATH}/{result.message_id}"}
    if result.duplicate:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(
        {
            "id": result.message_id,
            "duplicate": result.duplicate,
            "deliveries": [{"id": d, "destination": dest} for d, dest in result.deliveries],
        },
        status_code=202,
        headers=headers,
    )


class IngestFastPath:
    """ASGI middleware: ``POST /api/v1/messages`` answered here, everything else passed on
    (see the module's docstring for why)."""

    def __init__(self, app: ASGIApp, hub: Hub, route: BaseRoute) -> None:
        self.app = app
        self._hub = hub
        self._route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != INGEST_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route  # what the router would set: RequestLatency's label
        response = await answer_ingest(self._hub, Request(scope, receive))
        await response(scope, receive, send)

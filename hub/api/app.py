"""The HTTP API (FastAPI): ingest, message status, health. OpenAPI at ``/openapi.json``.

Errors are RFC 7807 ``application/problem+json`` with a machine-readable ``reason`` and, for
XML faults, the ``line``, ``column`` and element ``path``. Status codes come from the one
table in ``hub.errors``. A message's status never includes its payload.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from hub.api.admin import admin_router
from hub.api.metrics import metrics_registry, render
from hub.bootstrap import Hub
from hub.errors import (
    HubError,
    InputError,
    PayloadTooLarge,
    UnsupportedMediaType,
    policy_for,
)
from hub.services.lookup_requests import ask_lookup
from hub.services.messages import DeliveryRow, message_status
from hub.services.principal import Principal

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_XML_TYPES = {"application/xml", "text/xml"}

_INGEST_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/xml": {
                "schema": {"type": "string", "format": "binary"},
                "example": "<Envelope xmlns='urn:omsorgshub:envelope:1'>…</Envelope>",
            }
        },
    },
    "responses": {
        "202": {"description": "Accepted: stored encrypted, deliveries scheduled."},
        "400": {"description": "Malformed or hostile XML (problem+json with line/column)."},
        "401": {"description": "Missing or unknown bearer token."},
        "403": {"description": "No active agreement allows it (reason code)."},
        "409": {"description": "Message id reused with different content."},
        "413": {"description": "Larger than max_message_bytes."},
        "415": {"description": "Not application/xml."},
        "422": {"description": "Schema, type, identity number or routing error."},
        "503": {"description": "A guard (agreements, keys, audit) cannot be reached."},
    },
}


def problem(error: HubError, instance: str | None = None) -> JSONResponse:
    status = policy_for(error).http_status
    body: dict[str, object] = {
        "type": f"urn:omsorgshub:problem:{error.reason}",
        "title": type(error).__name__,
        "status": status,
        "detail": error.detail,
        "reason": error.reason,
    }
    if instance:
        body["instance"] = instance
    for key in ("line", "column", "path"):
        value = error.context.get(key)
        if value is not None:
            body[key] = value
    headers = {"WWW-Authenticate": 'Bearer realm="omsorgshub"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the envelope is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the envelope exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=20, description="The identity number")
    scheme: Literal["se", "dk"] = "se"


class LookupBody(BaseModel):
    """``POST /api/v1/lookups``: unknown fields are refused, as everywhere in the hub."""

    model_config = ConfigDict(extra="forbid")
    lookup: str = Field(description="client_summary or invoice_status")
    district: str
    purpose: str
    subject: Subject
    params: dict[str, str] = Field(default_factory=dict)
    consent: str | None = Field(default=None, description="Reference to the recorded consent")


def _delivery_view(row: DeliveryRow) -> dict[str, object]:
    return {
        "id": row.id,
        "destination": row.destination,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.state == "retrying" else None,
        "last_error": row.last_error,
        "last_reason": row.last_reason,
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="Omsorgshub",
        version="1",
        description="Secure integration hub for municipal elderly care.",
    )

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return problem(exc, str(request.url.path))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = "/".join(str(p) for p in first.get("loc", ()))
        error = InputError(f"{where}: {first.get('msg', 'invalid')}", reason="request_invalid")
        return problem(error, str(request.url.path))

    @app.post(
        "/api/v1/messages",
        status_code=202,
        openapi_extra=_INGEST_OPENAPI,
        summary="Send a message (XML envelope) through the hub",
    )
    async def post_message(request: Request) -> Response:
        # Headers read directly: FastAPI's per-request parameter resolution was about a quarter
        # of the server's CPU per message in a profile of this hot path.
        authorization = request.headers.get("authorization")
        content_type = request.headers.get("content-type")
        sender = hub.authenticator.cached_system(authorization)
        if sender is None:  # not cached: the registry is read in a worker thread
            sender = await run_in_threadpool(hub.authenticator.system_for, authorization)
        media = (content_type or "").split(";")[0].strip().lower()
        if media not in _XML_TYPES and not media.endswith("+xml"):
            raise UnsupportedMediaType(f"Content-Type must be application/xml, not {media!r}")
        data = await _read_body(request, hub.settings.max_message_bytes)
        result = await run_in_threadpool(hub.ingestor.ingest, sender, data)
        location = f"/api/v1/messages/{result.message_id}"
        headers = {"Location": location}
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

    def _status(message_id: str, sender: str) -> dict[str, object]:
        detail = message_status(hub, Principal.system(sender), message_id)
        message = detail.message
        return {
            "id": message.id,
            "type": message.message_type,
            "version": message.version,
            "district": message.district,
            "purpose": message.purpose,
            "message_id": message.idempotency_key,
            "agreement": message.agreement_ref,
            "received_at": message.received_at.isoformat(),
            "state": detail.state,
            "deliveries": [_delivery_view(r) for r in detail.deliveries],
        }

    @app.get("/api/v1/messages/{message_id}", summary="A message's state and its deliveries")
    async def get_message(
        message_id: str, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, object]:
        sender = await run_in_threadpool(hub.authenticator.system_for, authorization)
        return await run_in_threadpool(_status, message_id, sender)

    @app.post(
        "/api/v1/lookups",
        summary="Ask a district's case or finance system (audited, agreement-checked)",
        responses={
            200: {"description": "The answer; nothing of it is stored."},
            403: {"description": "No agreement allows it, or consent is missing."},
            502: {"description": "The system behind could not answer."},
        },
    )
    async def post_lookup(
        body: LookupBody, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, object]:
        sender = await run_in_threadpool(hub.authenticator.system_for, authorization)
        result = await run_in_threadpool(
            lambda: ask_lookup(
                hub,
                Principal.system(sender),
                lookup=body.lookup,
                district=body.district,
                purpose=body.purpose,
                subject=body.subject.id,
                scheme=body.subject.scheme,
                params=body.params,
                consent=body.consent,
            )
        )
        return {"lookup": body.lookup, "district": body.district, "data": result.data}

    app.include_router(admin_router(hub))
    registry = metrics_registry(hub)

    @app.get("/metrics", summary="Prometheus metrics (counts only, no personal data)")
    async def metrics() -> Response:
        body = await run_in_threadpool(render, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="The database and the guards can be reached")
    async def readyz() -> Response:
        def check() -> None:
            with hub.reader.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(check)
        except Exception as exc:
            log.warning("not ready: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "reason": "database_unreachable"}, status_code=503
            )
        if hub.guards.audit.alarm.raised:  # appends refuse until an operator acknowledges
            return JSONResponse(
                {"status": "unavailable", "reason": "audit_integrity_alarm"}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    return app

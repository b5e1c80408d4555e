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
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from hub.api.admin import admin_router
from hub.api.atl import atl_router
from hub.api.fhir import fhir_router
from hub.api.ingest import (
    INGEST_OPENAPI,
    INGEST_PATH,
    INGEST_RESPONSES,
    IngestFastPath,
    answer_ingest,
)
from hub.api.ivo import ivo_router
from hub.api.metrics import RequestLatency, metrics_registry, render
from hub.api.own_access_log import own_access_log_router
from hub.api.problems import (
    install_problem_handlers,
    problem_responses,
    problem_schema,
)
from hub.api.protected import protected_router
from hub.api.records import records_router
from hub.api.referrals import referrals_router
from hub.api.retention import retention_router
from hub.api.review import review_router
from hub.api.stats import stats_router
from hub.api.timereports import timereports_router
from hub.bootstrap import Hub
from hub.console.app import install_console
from hub.services.health import audit_alarm_check, broker_check, database_check, first_failure
from hub.services.lookup_requests import ask_lookup
from hub.services.lookups import LOOKUPS
from hub.services.messages import DeliveryRow, message_status
from hub.services.principal import Principal

log = logging.getLogger(__name__)

# Operations anyone may call (health, metrics); every other one needs the bearer token.
_OPEN: dict[str, Any] = {"security": []}


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=20, description="The identity number")
    scheme: Literal["se", "dk"] = "se"


_LOOKUP_KINDS: list[JsonValue] = [*sorted(LOOKUPS)]


class LookupBody(BaseModel):
    """``POST /api/v1/lookups``: unknown fields are refused, as everywhere in the hub."""

    model_config = ConfigDict(extra="forbid")
    # Declared as an enum in OpenAPI; checked by the service, which suggests the kind a typo
    # meant ("did you mean 'invoice_status'?"), where a validation error could only list them.
    lookup: str = Field(description="What to ask", json_schema_extra={"enum": _LOOKUP_KINDS})
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
        "next_attempt_at": row.next_attempt_at.isoformat()
        if row.state in ("retrying", "awaiting_receipt")
        else None,
        "receipt_ref": row.receipt_ref,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
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
    install_problem_handlers(app)

    @app.post(
        INGEST_PATH,
        status_code=202,
        openapi_extra=INGEST_OPENAPI,
        responses=INGEST_RESPONSES,
        summary="Send a message (XML envelope) through the hub",
    )
    async def post_message(request: Request) -> Response:
        # Reached only by what IngestFastPath passes on (a variant of the path); the same
        # answer either way.
        return await answer_ingest(hub, request)

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

    @app.get(
        "/api/v1/messages/{message_id}",
        summary="A message's state and its deliveries",
        responses=problem_responses(401, 404, 422, 503),
    )
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
            **problem_responses(401, 403, 422, 502, 503),
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

    app.include_router(fhir_router(hub))
    app.include_router(
        admin_router(hub), responses=problem_responses(401, 403, 404, 409, 413, 415, 422, 503)
    )
    app.include_router(referrals_router(hub), responses=problem_responses(401, 404, 422, 503))
    app.include_router(stats_router(hub), responses=problem_responses(401, 404, 422, 503))
    app.include_router(records_router(hub), responses=problem_responses(401, 404, 422, 503))
    app.include_router(ivo_router(hub), responses=problem_responses(401, 403, 404, 422, 503))
    app.include_router(atl_router(hub), responses=problem_responses(401, 404, 422, 503))
    app.include_router(retention_router(hub), responses=problem_responses(401, 404, 409, 422, 503))
    app.include_router(protected_router(hub), responses=problem_responses(401, 404, 422, 503))
    app.include_router(
        timereports_router(hub), responses=problem_responses(401, 403, 404, 409, 422, 503)
    )
    app.include_router(review_router(hub), responses=problem_responses(401, 404, 409, 422, 503))
    app.include_router(own_access_log_router(hub), responses=problem_responses(401, 404, 422, 503))
    install_console(app, hub)  # /console: the web console for people (hub.console)
    registry, latency = metrics_registry(hub)
    ingest_route = next(r for r in app.routes if getattr(r, "path", None) == INGEST_PATH)
    app.add_middleware(IngestFastPath, hub=hub, route=ingest_route)  # inside RequestLatency
    app.add_middleware(RequestLatency, histogram=latency)

    @app.get(
        "/metrics",
        summary="Prometheus metrics (counts only, no personal data)",
        openapi_extra=_OPEN,
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        body = await run_in_threadpool(render, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", summary="The process is alive", openapi_extra=_OPEN)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    checks = [database_check(hub.reader), audit_alarm_check(lambda: hub.guards.audit.alarm.raised)]
    if hub.settings.broker_url:
        checks.append(broker_check(hub.settings.broker_url))

    @app.get(
        "/readyz",
        summary="The database and, scaled out, the broker can be reached",
        openapi_extra=_OPEN,
        responses={503: {"description": "A dependency does not answer (reason names it)."}},
    )
    async def readyz() -> Response:
        failed = await run_in_threadpool(first_failure, checks)
        if failed is not None:
            return JSONResponse({"status": "unavailable", "reason": failed}, status_code=503)
        return JSONResponse({"status": "ready"})

    def openapi() -> dict[str, Any]:
        """The generated description, with the bearer scheme every operation but the open
        ones requires."""
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {})
            components.setdefault("schemas", {})["Problem"] = problem_schema()
            components["securitySchemes"] = {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The system's token (`omsorgshub systems add NAME`).",
                }
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

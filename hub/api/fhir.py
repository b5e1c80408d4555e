"""``POST /api/v1/fhir/$process-message``: MedCom CareCommunication messages in (FHIR R4 JSON).

The face checks the bearer token (a registered system), the media type (``application/fhir+json``
or ``application/json``, UTF-8) and the size, and hands the body to
``hub.services.medcom_inbound``; it answers ``200`` with the acknowledgement bundle (``ok``,
``transient-error`` or ``fatal-error``) or ``400`` with an OperationOutcome for a body that is
no message bundle. Authentication, media-type and size errors are problem+json like everywhere.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from hub.api.ingest import read_body
from hub.api.logs import event
from hub.api.problems import problem_responses
from hub.bootstrap import Hub
from hub.errors import HubError, UnsupportedMediaType, policy_for
from hub.services.medcom_inbound import process_message

FHIR_JSON = "application/fhir+json"
_MEDIA = (FHIR_JSON, "application/json")
_UTF8 = {"utf-8", "utf8"}
_BUNDLE = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}

PROCESS_MESSAGE_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {media: {"schema": _BUNDLE} for media in _MEDIA},
    },
}
PROCESS_MESSAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The MedCom acknowledgement bundle: ok, transient-error or fatal-error.",
        "content": {FHIR_JSON: {"schema": _BUNDLE}},
    },
    400: {
        "description": "Not a message bundle with a MessageHeader: an OperationOutcome.",
        "content": {FHIR_JSON: {"schema": _BUNDLE}},
    },
    **problem_responses(401, 413, 415, 422, 503),
}
PROCESS_MESSAGE_RESPONSES[415] = {
    **PROCESS_MESSAGE_RESPONSES[415],
    "description": "Not application/fhir+json (or application/json) in UTF-8.",
}


def check_fhir_media_type(content_type: str | None) -> None:
    media, *params = (content_type or "").split(";")
    media = media.strip().lower()
    if media not in _MEDIA:
        raise UnsupportedMediaType(
            f"Content-Type must be {FHIR_JSON} (or application/json), not {media or 'none'!r}"
        )
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if name == "charset" and value not in _UTF8:
            raise UnsupportedMediaType(f"charset {value!r} is not accepted: send UTF-8")


def fhir_router(hub: Hub) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/fhir/$process-message",
        summary="Take a MedCom CareCommunication (FHIR message bundle); answer its acknowledgement",
        openapi_extra=PROCESS_MESSAGE_OPENAPI,
        responses=PROCESS_MESSAGE_RESPONSES,
        response_class=Response,
    )
    async def process_message_endpoint(request: Request) -> Response:
        sender: str | None = None
        try:
            authorization = request.headers.get("authorization")
            sender = await run_in_threadpool(hub.authenticator.system_for, authorization)
            check_fhir_media_type(request.headers.get("content-type"))
            data = await read_body(
                request, hub.settings.max_message_bytes, hub.settings.max_drain_bytes
            )
            answer = await run_in_threadpool(process_message, hub, sender, data)
        except HubError as exc:
            event("refused", sender=sender, status=policy_for(exc).http_status, reason=exc.reason)
            raise
        event(
            "medcom_acknowledged",
            sender=sender,
            outcome=answer.outcome,
            message_id=answer.message_id,
            reason=answer.reason,
        )
        return Response(answer.body, status_code=answer.status, media_type=FHIR_JSON)

    return router

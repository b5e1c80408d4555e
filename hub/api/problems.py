"""RFC 9457 problem details: every error the API answers is ``application/problem+json``.

One shape for the hub's own errors, for a request the framework could not match (404, 405) and
for a request body it could not parse, so a client needs one error parser. ``title`` is short
human text for the kind of problem; ``reason`` is the stable machine-readable code; ``detail``
says what was wrong with this request. The OpenAPI description declares the same shape
(``Problem``) for every error status an operation can answer.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub.errors import (
    AuthenticationError,
    Conflict,
    ContractRefusal,
    GuardUnavailable,
    HostileXml,
    HubError,
    IdempotencyConflict,
    InputError,
    InvalidIdentityNumber,
    MalformedXml,
    NotFound,
    PayloadTooLarge,
    RoutingError,
    SchemaInvalid,
    UnknownMessageType,
    UnsupportedMediaType,
    policy_for,
)

PROBLEM = "application/problem+json"

# Most specific first, as in hub.errors.ERROR_TABLE; a class not named here gets the phrase of
# its HTTP status ("Bad Gateway").
TITLES: dict[type[HubError], str] = {
    PayloadTooLarge: "Message too large",
    UnsupportedMediaType: "Unsupported media type",
    MalformedXml: "Malformed XML",
    HostileXml: "Hostile XML refused",
    SchemaInvalid: "Message does not match its schema",
    UnknownMessageType: "Unknown message type",
    InvalidIdentityNumber: "Invalid identity number",
    RoutingError: "No route for the message",
    IdempotencyConflict: "Message id reused with other content",
    InputError: "Invalid request",
    AuthenticationError: "Authentication required",
    NotFound: "Not found",
    Conflict: "Conflict with the stored state",
    ContractRefusal: "Refused by the data-processing agreements",
    GuardUnavailable: "Temporarily unavailable",
}


class Problem(BaseModel):
    """An error answer (``application/problem+json``)."""

    type: str = Field(description="urn:omsorgshub:problem:<reason>")
    title: str = Field(description="Short human summary of the kind of problem")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What was wrong with this request")
    reason: str = Field(description="Stable machine-readable reason code")
    instance: str | None = Field(default=None, description="The request path")
    line: int | None = Field(default=None, description="XML faults: line in the document")
    column: int | None = Field(default=None, description="XML faults: column in the line")
    path: str | None = Field(default=None, description="XML faults: element path")
    findings: list[dict[str, Any]] | None = Field(
        default=None,
        description="A refused time-report batch: each visit's problem (reason, detail, index "
        "in the batch or CSV line)",
    )


def title_for(error: HubError, status: int) -> str:
    for cls in type(error).__mro__:
        if cls in TITLES:
            return TITLES[cls]
    return HTTPStatus(status).phrase


def problem(
    error: HubError, instance: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    status = policy_for(error).http_status
    body: dict[str, object] = {
        "type": f"urn:omsorgshub:problem:{error.reason}",
        "title": title_for(error, status),
        "status": status,
        "detail": error.detail,
        "reason": error.reason,
    }
    if instance:
        body["instance"] = instance
    for key in ("line", "column", "path", "findings"):
        value = error.context.get(key)
        if value is not None:
            body[key] = value
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="omsorgshub"'
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def plain_problem(
    status: int, reason: str, detail: str, instance: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A problem answer for what is not a ``HubError`` (the framework's 404 and 405)."""
    body = {
        "type": f"urn:omsorgshub:problem:{reason}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "reason": reason,
        "instance": instance,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


_DESCRIPTIONS = {
    400: "Malformed or hostile XML (with line, column and element path).",
    401: "Missing or unknown bearer token.",
    403: "Refused: no active agreement allows it, or the token may not do this.",
    404: "No such resource (or not this system's).",
    405: "Method not allowed on this path.",
    409: "Clashes with the stored state (a message id reused with other content).",
    410: "The data was destroyed on purpose (key shredded).",
    413: "The body is larger than max_message_bytes.",
    415: "Not application/xml or text/xml in UTF-8.",
    422: "Well-formed but invalid (schema, type, identity number, routing, request fields).",
    502: "The system behind could not answer.",
    503: "A guard (agreements, keys, audit) or the database cannot be reached.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, each a ``Problem``."""
    content = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        status: {"description": _DESCRIPTIONS[status], "content": content} for status in statuses
    }


def problem_schema() -> dict[str, Any]:
    """``Problem`` for ``components/schemas`` (the responses above refer to it)."""
    return Problem.model_json_schema(ref_template="#/components/schemas/{model}")


def install_problem_handlers(app: FastAPI) -> None:
    """Answer the hub's errors, unparseable requests and the framework's own errors alike."""

    @app.exception_handler(HubError)
    async def _hub_error(request: Request, exc: HubError) -> JSONResponse:
        return problem(exc, str(request.url.path))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = "/".join(str(p) for p in first.get("loc", ()))
        error = InputError(f"{where}: {first.get('msg', 'invalid')}", reason="request_invalid")
        return problem(error, str(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _framework_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a JSON body that could not even be decoded
            error = InputError(
                f"the body could not be read as JSON: {exc.detail}", reason="request_invalid"
            )
            return problem(error, str(request.url.path))
        reasons = {404: "not_found", 405: "method_not_allowed"}
        reason = reasons.get(exc.status_code, "http_error")
        detail = {
            404: f"no resource at {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
        return plain_problem(exc.status_code, reason, detail, str(request.url.path), headers)

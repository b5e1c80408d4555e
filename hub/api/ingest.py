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
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from hub.api.problems import problem_responses
from hub.errors import InputError, PayloadTooLarge, UnsupportedMediaType

XML_TYPES = ("application/xml", "text/xml")
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

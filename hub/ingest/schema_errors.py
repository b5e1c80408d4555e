"""A schema's refusal (``schemas.errors.SchemaError``, which knows nothing of the hub) as the
hub's own error with its HTTP meaning: hostile XML, too large, invalid, unknown type."""

from __future__ import annotations

from hub.errors import (
    HostileXml,
    InputError,
    MalformedXml,
    PayloadTooLarge,
    SchemaInvalid,
    UnknownMessageType,
)
from schemas.errors import SchemaError

_SCHEMA_ERRORS: dict[str, type[InputError]] = {
    "malformed_xml": MalformedXml,
    "forbidden_dtd": HostileXml,
    "too_deep": HostileXml,
    "too_large": PayloadTooLarge,
    "schema_invalid": SchemaInvalid,
    "unknown_message_type": UnknownMessageType,
}


def translate_schema_error(exc: SchemaError) -> InputError:
    cls = _SCHEMA_ERRORS.get(exc.reason, InputError)
    return cls(exc.detail, reason=exc.reason, line=exc.line, column=exc.column, path=exc.path)

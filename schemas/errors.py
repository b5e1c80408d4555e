"""Why a document was refused, in the one exception type ``schemas/`` raises.

``schemas/`` imports nothing of the hub, so it cannot raise ``hub.errors`` classes itself; it
raises :class:`SchemaError` with a stable ``reason`` code and the document location instead,
and the hub translates each reason into its own error tree at the ingest boundary
(``too_large`` -> 413, ``forbidden_dtd``/``too_deep`` -> hostile XML, the rest 400/422).

Details never quote document content: a value that failed a facet may be a personnummer, and
error texts end up in logs and audit entries.

:class:`SchemaDefinitionError` is different in kind: one of *our* XSD files is missing or does not
compile. That is a defect of the installation, never the sender's fault.
"""

from __future__ import annotations

from typing import Literal, get_args

Reason = Literal[
    "malformed_xml",
    "forbidden_dtd",
    "too_large",
    "too_deep",
    "schema_invalid",
    "unknown_message_type",
]

REASONS: frozenset[str] = frozenset(get_args(Reason))


class SchemaError(Exception):
    """A document (or a message type name) the hub will not accept, with where it went wrong.

    ``line`` and ``column`` are 1-based positions in the received document when known;
    ``path`` is the element path by local names, e.g. ``/Envelope/Body/CaseReferral/Urgency``.
    """

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        line: int | None = None,
        column: int | None = None,
        path: str | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown SchemaError reason {reason!r}")
        super().__init__(detail)
        self.reason: Reason = reason
        self.detail = detail
        self.line = line
        self.column = column
        self.path = path

    @property
    def location(self) -> str:
        """``line 3, column 7 at /Envelope/Header/Type``, or ``""`` when nothing is known."""
        parts: list[str] = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        where = ", ".join(parts)
        if self.path is not None:
            where = f"{where} at {self.path}" if where else f"at {self.path}"
        return where

    def __str__(self) -> str:
        where = self.location
        return (
            f"{self.reason} ({where}): {self.detail}" if where else f"{self.reason}: {self.detail}"
        )

    def __repr__(self) -> str:
        return (
            f"SchemaError({self.reason!r}, {self.detail!r}, line={self.line!r}, "
            f"column={self.column!r}, path={self.path!r})"
        )


class SchemaDefinitionError(Exception):
    """One of the hub's own XSD files is missing or invalid: an installation defect."""

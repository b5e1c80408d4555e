"""The table of message types the hub accepts, and XSD validation against them.

A message type is a name and a version (``case.referral`` v1), the XSD file that defines its
body, the qualified root element that body must have, the data categories it carries
(agreements in ``contracts/`` allow or deny by those) and where its body holds the identity
numbers of the persons it is about (``schemas.subjects``: ingest links the message to each).

It is a plain table, not a scan of the ``xsd/`` folder: adding a type is a reviewed change of the
list in ``schemas.catalogue``. XSD files are read and compiled on first use, never at import. A
compiled ``XMLSchema`` keeps its error log on the object, so two threads validating with the
same one would read each other's errors; each thread therefore compiles its own copy (a few
milliseconds, once per thread and type) from XSD bytes read once and shared.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol, cast

from lxml import etree

from schemas.business_keys import BusinessKey as BusinessKey
from schemas.catalogue import MESSAGE_TYPES
from schemas.errors import SchemaDefinitionError, SchemaError
from schemas.locations import clean_message, readable, resolve_libxml2_path
from schemas.locations import element_path as element_path
from schemas.locations import source_line as source_line
from schemas.message_type import CATEGORIES as CATEGORIES
from schemas.message_type import MessageType as MessageType
from schemas.subjects import SubjectPath as SubjectPath

XSD_DIR = Path(__file__).parent / "xsd"
ENVELOPE_XSD = "envelope-1.xsd"
ENVELOPE_NS = "urn:omsorgshub:envelope:1"
ENVELOPE_ROOT = f"{{{ENVELOPE_NS}}}Envelope"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


class Registry:
    """Message types by (name, version), with lazily compiled, per-thread XSD validators."""

    def __init__(
        self,
        types: Iterable[MessageType],
        *,
        xsd_dir: Path = XSD_DIR,
        envelope_xsd: str = ENVELOPE_XSD,
    ) -> None:
        self._types: dict[tuple[str, str], MessageType] = {}
        for mt in types:
            key = (mt.name, mt.version)
            if key in self._types:
                raise ValueError(f"message type {mt.label} is registered twice")
            self._types[key] = mt
        self._xsd_dir = xsd_dir
        self._envelope_xsd = envelope_xsd
        self._xsd_bytes: dict[str, bytes] = {}
        self._xsd_lock = threading.Lock()
        self._local = threading.local()

    def get(self, name: str, version: str) -> MessageType:
        """The type, or ``SchemaError('unknown_message_type')`` with a suggestion."""
        mt = self._types.get((name, version))
        if mt is not None:
            return mt
        versions = sorted(v for (n, v) in self._types if n == name)
        if versions:
            raise SchemaError(
                "unknown_message_type",
                f"unknown version {version!r} of message type {name!r}; "
                f"known versions: {', '.join(versions)}",
            )
        names = sorted({n for (n, _) in self._types})
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known types: {', '.join(names)}"
        raise SchemaError("unknown_message_type", f"unknown message type {name!r}{hint}")

    def types(self) -> list[MessageType]:
        return sorted(self._types.values(), key=lambda mt: (mt.name, mt.version))

    def validate(self, mt: MessageType, element: etree._Element) -> None:
        """Check ``element`` is a valid ``mt`` body: root tag, then the type's XSD."""
        if element.tag != mt.root:
            raise SchemaError(
                "schema_invalid",
                f"{mt.label} needs root element {readable(mt.root)}, "
                f"got {readable(str(element.tag))}",
                line=source_line(element),
                path=element_path(element),
            )
        self._check(self._schema(mt.xsd), element)

    def validate_envelope(self, element: etree._Element) -> None:
        """Check ``element`` is a valid envelope (its body is checked by :meth:`validate`)."""
        if element.tag != ENVELOPE_ROOT:
            raise SchemaError(
                "schema_invalid",
                f"root element must be Envelope in namespace {ENVELOPE_NS}, "
                f"got {readable(str(element.tag))}",
                line=source_line(element),
                path=element_path(element),
            )
        self._check(self._schema(self._envelope_xsd), element)

    def warm_up(self) -> None:
        """Compile every schema now in this thread, so a broken XSD fails at start-up."""
        self._schema(self._envelope_xsd)
        for mt in self._types.values():
            self._schema(mt.xsd)

    def _thread_state(self) -> _ThreadState:
        state: _ThreadState | None = getattr(self._local, "state", None)
        if state is None:
            state = _ThreadState()
            self._local.state = state
        return state

    def _schema(self, xsd: str) -> etree.XMLSchema:
        compiled = self._thread_state().schemas
        schema = compiled.get(xsd)
        if schema is None:
            schema = _compile(xsd, self._read_xsd(xsd))
            compiled[xsd] = schema
        return schema

    def _read_xsd(self, xsd: str) -> bytes:
        with self._xsd_lock:
            data = self._xsd_bytes.get(xsd)
            if data is None:
                try:
                    data = (self._xsd_dir / xsd).read_bytes()
                except OSError as exc:
                    raise SchemaDefinitionError(f"cannot read XSD {xsd}: {exc}") from exc
                self._xsd_bytes[xsd] = data
            return data

    def _check(self, schema: etree.XMLSchema, element: etree._Element) -> None:
        # xsi:type values are QNames whose prefixes exclusive canonicalization does not keep,
        # and type substitution is nothing a sender needs: refuse it outright.
        xsi_type = _first_xsi_type(element, self._thread_state().xsi_type_finder)
        if xsi_type is not None:
            raise SchemaError(
                "schema_invalid",
                "xsi:type is not accepted: the message type fixes the schema",
                line=source_line(xsi_type),
                path=element_path(xsi_type),
            )
        try:
            valid = schema.validate(element)
        except etree.Error as exc:
            raise SchemaError(
                "schema_invalid",
                f"the validator could not process the document ({type(exc).__name__})",
                line=source_line(element),
                path=element_path(element),
            ) from None
        if valid:
            return
        errors = list(cast(Iterable[_LogEntry], schema.error_log))
        if not errors:
            raise SchemaError("schema_invalid", "document is not valid", path=element_path(element))
        first = errors[0]
        node = resolve_libxml2_path(element, first.path)
        raise SchemaError(
            "schema_invalid",
            clean_message(first.message),
            line=source_line(node) if node is not None else (first.line or None),
            column=first.column or None,
            path=element_path(node) if node is not None else None,
        )


class _LogEntry(Protocol):
    """The parts of lxml's ``_LogEntry`` used here (missing from lxml-stubs)."""

    path: str | None
    line: int
    column: int
    message: str


class _ThreadState:
    """One thread's compiled schemas and XPath (lxml keeps error logs on these objects)."""

    def __init__(self) -> None:
        self.schemas: dict[str, etree.XMLSchema] = {}
        self.xsi_type_finder = etree.XPath(
            "descendant-or-self::*[@xsi:type][1]", namespaces={"xsi": XSI_NS}
        )


def default_registry() -> Registry:
    """The message types this release of the hub accepts (``schemas.catalogue``)."""
    return Registry(MESSAGE_TYPES)


# libxml2's schema compiler is not safe to run in several threads at once: concurrent first
# compiles in a fresh process failed now and then with "Document is not valid XML Schema"
# (measured: 1 in 30 with 16 threads). Compiling happens once per thread and type, so a lock
# costs nothing afterwards.
_COMPILE_LOCK = threading.Lock()


def _compile(xsd: str, data: bytes) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        with _COMPILE_LOCK:
            return etree.XMLSchema(etree.fromstring(data, parser))
    except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise SchemaDefinitionError(f"XSD {xsd} does not compile: {exc}") from exc


def _first_xsi_type(element: etree._Element, finder: etree.XPath) -> etree._Element | None:
    found = finder(element)
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None

"""The one way the hub turns received bytes into an XML tree.

Received documents come from systems outside our control, so parsing is hostile-input handling:

1. **Size** is checked on the raw bytes before libxml2 sees them (``too_large``).
2. **Any DOCTYPE is refused** (``forbidden_dtd``). ``resolve_entities=False`` is not enough:
   with it libxml2 still *parses* an XXE document and, measured here (libxml2 2.14), even
   ``load_dtd=False`` opens a file named by an external DTD subset or a parameter entity. So a
   first pass runs libxml2 with a parser *target* whose ``doctype`` callback raises: libxml2
   calls it right after ``<!DOCTYPE name ...`` and before the internal subset or any external
   subset is read, so the refusal happens before any entity is declared or any file is opened.
   libxml2 does the decoding itself, so UTF-16/UTF-32/declared encodings and comments or
   processing instructions in front of the DOCTYPE cannot hide it from the check.
3. The second pass builds the tree with entities, DTD loading, network and huge trees off,
   comments and processing instructions dropped; afterwards the document must still have no
   DTD (defence in depth).
4. **Depth** over ``max_depth`` is refused (``too_deep``). libxml2 itself caps nesting at 256
   without ``huge_tree`` and the size cap bounds the tree, so the tree is built first and the
   limit checked right after with one compiled XPath (a few microseconds), instead of Python
   callbacks per element during parsing.

lxml parsers and XPath evaluators must not be shared between threads; each thread gets its own,
made on first use (never at import).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import cast

from lxml import etree

from schemas.errors import SchemaError

# libxml2's own nesting cap without XML_PARSE_HUGE; a larger limit could never be reached.
LIBXML2_MAX_DEPTH = 256


@dataclass(frozen=True)
class ParseLimits:
    """Upper bounds for one received document."""

    max_bytes: int = 1_048_576
    max_depth: int = 64

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ValueError("ParseLimits.max_bytes must be positive")
        if not 1 <= self.max_depth <= LIBXML2_MAX_DEPTH:
            raise ValueError(f"ParseLimits.max_depth must be between 1 and {LIBXML2_MAX_DEPTH}")


DEFAULT_LIMITS = ParseLimits()


def parse_xml(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise :class:`SchemaError`.

    Reasons: ``too_large``, ``forbidden_dtd``, ``malformed_xml`` (with line and column),
    ``too_deep``. Returns the root element; comments and processing instructions are removed.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"parse_xml expects bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise SchemaError(
            "too_large",
            f"document is {len(data)} bytes, the limit is {limits.max_bytes}",
        )
    tools = _thread_tools()
    # Pass 1: refuse a DOCTYPE before libxml2 reads its subsets. Also finds malformed XML.
    try:
        etree.fromstring(data, tools.guard_parser)
    except _DoctypeFoundError:
        raise SchemaError(
            "forbidden_dtd", "a DOCTYPE is not allowed (no DTDs, no entities)"
        ) from None
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, limits) from None
    # Pass 2: the tree itself, with every loading and expansion switched off.
    try:
        root = etree.fromstring(data, tools.tree_parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, limits) from None
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SchemaError("forbidden_dtd", "a DOCTYPE is not allowed (no DTDs, no entities)")
    if tools.deeper_than(limits.max_depth)(root):
        raise SchemaError(
            "too_deep",
            f"elements are nested deeper than {limits.max_depth} levels",
            line=_first_line_deeper_than(root, limits.max_depth),
        )
    return root


class _DoctypeFoundError(Exception):
    """Raised from inside libxml2's DOCTYPE callback to stop the parse on the spot."""


class _DoctypeTripwire:
    """An lxml parser target that only reacts to a DOCTYPE; no Python call per element."""

    def doctype(self, name: str | None, pubid: str | None, system_url: str | None) -> None:
        raise _DoctypeFoundError

    def close(self) -> None:
        return None


class _ThreadTools:
    """This thread's parsers and depth checks (lxml objects are not safe to share)."""

    def __init__(self) -> None:
        # lxml calls only the target methods that exist; the stubs' ParserTarget lists them all.
        self.guard_parser = _hardened_parser(cast("etree.ParserTarget", _DoctypeTripwire()))
        self.tree_parser = _hardened_parser(None)
        self._depth_checks: dict[int, etree.XPath] = {}

    def deeper_than(self, depth: int) -> etree.XPath:
        """An XPath that is true when any element sits at nesting level ``depth + 1``."""
        check = self._depth_checks.get(depth)
        if check is None:
            check = etree.XPath("boolean(" + "/*" * (depth + 1) + ")")
            self._depth_checks[depth] = check
        return check


def _hardened_parser(target: etree.ParserTarget | None) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        recover=False,
        collect_ids=False,
        remove_comments=True,
        remove_pis=True,
        strip_cdata=True,
        target=target,
    )


_local = threading.local()


def _thread_tools() -> _ThreadTools:
    tools: _ThreadTools | None = getattr(_local, "tools", None)
    if tools is None:
        tools = _ThreadTools()
        _local.tools = tools
    return tools


_LOCATION_SUFFIX = re.compile(r", line \d+, column \d+$")


def _syntax_error(exc: etree.XMLSyntaxError, limits: ParseLimits) -> SchemaError:
    message = _LOCATION_SUFFIX.sub("", exc.msg or "not well-formed XML").strip()
    line, column = exc.position if exc.position else (None, None)
    if "Excessive depth" in message:
        return SchemaError(
            "too_deep",
            f"elements are nested deeper than {limits.max_depth} levels",
            line=line or None,
        )
    return SchemaError(
        "malformed_xml",
        message,
        line=line or None,
        column=column or None,
    )


def _first_line_deeper_than(root: etree._Element, depth: int) -> int | None:
    """Source line of the first element below the limit (only on the refusal path)."""
    found = root.xpath("(" + "/*" * (depth + 1) + ")[1]")
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        line = found[0].sourceline
        return line if isinstance(line, int) else None
    return None

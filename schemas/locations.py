"""Where in a received document something is wrong, told without repeating its values.

Error reports name an element by its path from the document root (``/Envelope/Body/...``) and
its line; libxml2's own messages are cleaned of element prefixes and of values, since a value
that failed a facet may be a personnummer. Split from the registry, which uses these to locate
its validation errors.
"""

from __future__ import annotations

import re

from lxml import etree


def element_path(node: etree._Element) -> str:
    """``/Envelope/Body/CaseReferral/Urgency``: local names from the document root, with a
    1-based ``[n]`` where siblings share the local name."""
    steps: list[str] = []
    current: etree._Element | None = node
    while current is not None:
        name = etree.QName(current).localname
        parent = current.getparent()
        if parent is not None:
            same = [c for c in parent if isinstance(c.tag, str) and local_name(c) == name]
            if len(same) > 1:
                name = f"{name}[{same.index(current) + 1}]"
        steps.append(name)
        current = parent
    return "/" + "/".join(reversed(steps))


def local_name(element: etree._Element) -> str:
    tag = element.tag
    assert isinstance(tag, str)
    return tag.rpartition("}")[2]


def source_line(element: etree._Element) -> int | None:
    """The element's 1-based line in the received document, when lxml knows it."""
    line = element.sourceline
    return line if isinstance(line, int) and line > 0 else None


def readable(clark: str) -> str:
    namespace, _, local = clark[1:].partition("}") if clark.startswith("{") else ("", "", clark)
    return f"{local} ({namespace})" if namespace else local


_SEGMENT = re.compile(r"^(?:(?P<prefix>[^:\[\]]+):)?(?P<name>[^:\[\]]+)(?:\[(?P<index>\d+)\])?$")


def resolve_libxml2_path(root: etree._Element, path: str | None) -> etree._Element | None:
    """Find the node libxml2's ``xmlGetNodePath`` names, relative to the validated ``root``.

    libxml2 writes ``/*/*[3]`` for elements in a default namespace (``*[n]`` counts every
    element sibling) and ``/p:Name[2]`` for prefixed ones (counting same name and prefix).
    """
    if not path or not path.startswith("/"):
        return None
    segments = path[1:].split("/")
    if not segments or _SEGMENT.match(segments[0]) is None:
        return None
    node = root
    for segment in segments[1:]:
        match = _SEGMENT.match(segment)
        if match is None or match["name"].endswith(")") or segment.startswith("@"):
            break  # text(), comment() or an attribute: the element itself is the location
        name, prefix = match["name"], match["prefix"]
        children = [c for c in node if isinstance(c.tag, str)]
        if name != "*":
            children = [c for c in children if local_name(c) == name and c.prefix == prefix]
        index = int(match["index"] or 1) - 1
        if not 0 <= index < len(children):
            return node
        node = children[index]
    return node


_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(?:, attribute '(?P<attr>[^']*)')?: ")
_CLARK_NAME = re.compile(r"\{[^{}\s]*\}(?=[A-Za-z_])")
_QUOTED_VALUE = re.compile(
    r"[Tt]he value '.*'(?= (?:is not|is greater|is less|has a length))", re.DOTALL
)
_LEADING_VALUE = re.compile(r"^'.*'(?= is not a valid value)", re.DOTALL)


def clean_message(message: str) -> str:
    """libxml2's text without the element prefix (the path says it) and without values.

    A value that failed a facet may be a personnummer; error details go to logs.
    """
    message = message.strip()
    attribute = None
    prefix = _ELEMENT_PREFIX.match(message)
    if prefix is not None:
        attribute = prefix["attr"]
        message = message[prefix.end() :]
    message = _QUOTED_VALUE.sub("The value", message)
    message = _LEADING_VALUE.sub("The value", message)
    message = _CLARK_NAME.sub("", message)
    return f"attribute '{attribute}': {message}" if attribute else message

"""Business keys: named values a message type's body carries that people search by.

A case number, a decision id, the SDK conversation a reply belongs to: each message type may
declare, beside its data categories and the places of its persons (``schemas.subjects``), the
values ingest reads from its body and stores with the message, so that the hub (referral
follow-up) and, later, the console find messages by them without decrypting any payload::

    BusinessKey("case_id", "CaseId")                              # keyed HMAC (the default)
    BusinessKey("urgency", "Urgency", protected=False)            # a closed enumeration: plain
    BusinessKey("affected_unit", "AffectedUnit/@id", protected=False)

``path`` has the syntax of a subject path: local names below the body's root, all in the
body's namespace, optionally ending in ``@attribute``. The first place it matches gives the
value (whitespace collapsed); an absent optional element gives none.

``protected`` says how the value is stored. A value that identifies a case or a
person-related record is stored as a keyed HMAC (``hub.keys.crypto.Hmacs.business_key``):
exact-match search still works by HMAC-ing the query, and a stolen database yields no case
numbers. Only values that identify nobody may be stored plain (closed enumerations, the ids
of organisational units, timestamps, identifiers the hub derived itself); each declaration
says which it is, there is no default guess at read time.

Extraction runs for every message, so a type's declaration is compiled once into a plan by the
qualified tag of each key's first step, and the already parsed body is read in one pass over
its children (``read_keys``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from lxml import etree

_STEP = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_PATH = re.compile(rf"^{_STEP}(?:/{_STEP})*(?:/@{_STEP})?$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

# A plain value longer than this is not stored (the column's width); the XSDs of the declared
# keys bound their values well below it.
MAX_PLAIN_LENGTH = 200


@dataclass(frozen=True)
class BusinessKey:
    """One named value in a body: where it is, and whether it is stored as a keyed HMAC."""

    name: str
    path: str
    protected: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"business key name {self.name!r}: use lower_case, at most 40")
        if not _PATH.match(self.path):
            raise ValueError(
                f"business key {self.name!r}: path {self.path!r} must be local names "
                "separated by '/', optionally ending in '/@attribute'"
            )


class KeyValue(NamedTuple):
    """A business key's value as read from a body (before any HMAC). A tuple, not a frozen
    dataclass: one is made per key and message, and a tuple is made several times faster."""

    name: str
    value: str
    protected: bool

    def __repr__(self) -> str:  # a protected value never reaches a log through a repr
        shown = "<protected>" if self.protected else repr(self.value)
        return f"KeyValue({self.name!r}, {shown})"


def read_keys(keys: Sequence[BusinessKey], body: etree._Element) -> tuple[KeyValue, ...]:
    """Every declared key that has a value in ``body``, in declaration order.

    One pass over the body's children (a key's first step picks the child, the rest of its
    path, if any, is a ``find`` below it): about 5 µs for the four keys of a referral, where a
    ``find`` per key from the root costs 2-3 µs each.
    """
    plan = _plan(keys, str(body.tag))
    values: dict[int, str] = {}
    for child in body:
        wanted = plan.get(child.tag)  # a comment's tag is a function: no match
        if wanted is None:
            continue
        for index, rest, attribute in wanted:
            if index in values:
                continue  # the first place a path matches gives the value
            element = child.find(rest) if rest else child
            if element is None:
                continue
            text = element.get(attribute) if attribute is not None else element.text
            collapsed = " ".join(text.split()) if text else ""
            if collapsed:
                values[index] = collapsed
    found: list[KeyValue] = []
    for index, key in enumerate(keys):
        value = values.get(index)
        if value is None or (not key.protected and len(value) > MAX_PLAIN_LENGTH):
            continue
        found.append(KeyValue(key.name, value, key.protected))
    return tuple(found)


_Step = tuple[int, str, str | None]  # (key's index, path below the first step, attribute)
_plans: dict[tuple[int, str], tuple[Sequence[BusinessKey], dict[str, list[_Step]]]] = {}


def _plan(keys: Sequence[BusinessKey], root_tag: str) -> dict[str, list[_Step]]:
    """The keys by the qualified tag of their first step, made once per declaration and root.

    Cached by the identity of the declaration (a registry's tuple lives as long as the
    process); the declaration is kept in the entry, so the id cannot be reused by another."""
    cached = _plans.get((id(keys), root_tag))
    if cached is not None and cached[0] is keys:
        return cached[1]
    namespace = etree.QName(root_tag).namespace
    plan: dict[str, list[_Step]] = {}
    for index, key in enumerate(keys):
        path, attribute = _compiled(key.path, namespace)
        first, _, rest = path.partition("/")
        plan.setdefault(first, []).append((index, rest, attribute))
    _plans[(id(keys), root_tag)] = (keys, plan)
    return plan


@lru_cache(maxsize=1024)
def _compiled(path: str, namespace: str | None) -> tuple[str, str | None]:
    steps = path.split("/")
    attribute = steps.pop()[1:] if steps[-1].startswith("@") else None
    prefix = f"{{{namespace}}}" if namespace else ""
    return "/".join(f"{prefix}{step}" for step in steps), attribute

"""What changed between two versions of an agreement, field by field.

A district administrator (and a lawyer reading over their shoulder) compares versions side by
side; this says which fields differ and how, in the order a reader of an art. 28 agreement
expects them. The bookkeeping of a version (its number, who wrote it and when) is not a change
of the agreement's terms and is left out.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from contracts.model import Agreement

# The terms of an agreement in reading order: parties, what, why, whom, how long, on what basis.
TERMS: Final = (
    "district",
    "controller_name",
    "dpo_contact",
    "processor",
    "sub_processors",
    "purposes",
    "message_types",
    "categories",
    "consent_required",
    "protected_identity_purposes",
    "subject_categories",
    "senders",
    "recipients",
    "valid_from",
    "valid_to",
    "retention_days",
    "legal_reference",
    "status",
    "revoked_reason",
)


@dataclass(frozen=True)
class Change:
    """One field that differs. For a set, ``added`` and ``removed`` name the entries; for any
    other field, ``before`` and ``after`` are its texts."""

    field: str
    before: str
    after: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def show(value: object) -> str:
    """A field's value as text a person reads: sets sorted, times as UTC dates and times."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, Set):
        return ", ".join(sorted(str(v) for v in value))
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def changes(older: Agreement, newer: Agreement) -> list[Change]:
    """The terms that differ from ``older`` to ``newer``, in ``TERMS`` order."""
    out: list[Change] = []
    for name in TERMS:
        before, after = getattr(older, name), getattr(newer, name)
        if before == after:
            continue
        if isinstance(before, Set) and isinstance(after, Set):
            out.append(
                Change(
                    name,
                    show(before),
                    show(after),
                    added=tuple(sorted(str(v) for v in after - before)),
                    removed=tuple(sorted(str(v) for v in before - after)),
                )
            )
        else:
            out.append(Change(name, show(before), show(after)))
    return out

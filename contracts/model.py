"""The data-processing agreement (GDPR art. 28, recorded as art. 30 requires).

Before the hub may carry a city district's personal data to or from a data processor, such as
Stockholm's Äldre direkt contact centre, the district (the controller) signs a written agreement
that says which data, for which purposes, between which systems. ``Agreement`` is one version of
such an agreement; versions are immutable and stored append-only (``contracts/store.py``).

Validity is a half-open interval in UTC: an agreement is valid at ``t`` when
``valid_from <= t`` and (``valid_to is None`` or ``t < valid_to``); ``valid_from`` is
inclusive, ``valid_to`` exclusive.
"""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

from contracts.errors import InvalidAgreementError

Status = Literal["active", "revoked"]
STATUSES: Final = frozenset({"active", "revoked"})

# Categories that need the person's recorded consent unless an agreement says otherwise: the
# seeds let Äldre direkt give individual information on decisions, fees and invoices only
# "after a confidentiality check and consent" (001, "Gränssnitt Kontaktcentertjänst").
DEFAULT_CONSENT_REQUIRED: Final = frozenset({"decisions", "fees", "invoices"})

# Ids and district codes end up in references ("id@version", max 200 chars in the hub's tables)
# and in URLs, so they are kept to a plain alphabet.
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_MAX_NAME = 200


def is_code(text: str) -> bool:
    """Whether ``text`` can be an agreement's id, a district code or a purpose at all (anything
    else names nothing, and need not reach the database or the audit trail)."""
    return _CODE.fullmatch(text) is not None


@dataclass(frozen=True, kw_only=True)
class Agreement:
    """One version of a data-processing agreement between a district and a processor."""

    id: str
    version: int
    district: str
    controller_name: str
    dpo_contact: str
    processor: str
    senders: frozenset[str]
    recipients: frozenset[str]
    purposes: frozenset[str]
    message_types: frozenset[str]
    categories: frozenset[str]
    subject_categories: frozenset[str]
    valid_from: datetime
    valid_to: datetime | None
    retention_days: int
    legal_reference: str
    consent_required: frozenset[str] = field(default=DEFAULT_CONSENT_REQUIRED)
    sub_processors: tuple[str, ...] = ()
    # Purposes for which persons with protected identity (sekretessmarkering, skyddad
    # folkbokföring) may be looked up or written about. Empty, the default: never (the seeds
    # allow individual information only "after a confidentiality check", 001).
    protected_identity_purposes: frozenset[str] = frozenset()
    status: Status = "active"
    revoked_reason: str | None = None
    # Set by the store when the version is written; empty/None for an agreement not yet stored.
    changed_by: str = ""
    changed_at: datetime | None = None

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise InvalidAgreementError(problems)
        # Normalise every time to UTC so equal instants compare and serialise equally.
        for name in ("valid_from", "valid_to", "changed_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, value.astimezone(UTC))

    @property
    def ref(self) -> str:
        """``"id@version"``: what a message records as the agreement that let it through."""
        return f"{self.id}@{self.version}"

    def is_valid_at(self, at: datetime) -> bool:
        """Inside ``[valid_from, valid_to)``; says nothing about revocation."""
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)


def unknown_references(
    agreement: Agreement, *, known_categories: Set[str], known_types: Set[str]
) -> list[tuple[str, str]]:
    """Categories and message types the agreement names that the registry does not know.

    Returns ``(field, message)`` pairs, empty when everything is known. Kept apart from the
    dataclass so ``contracts`` needs no import of ``schemas``: the caller passes the sets.
    """
    problems: list[tuple[str, str]] = []
    for name in ("categories", "consent_required"):
        unknown = sorted(getattr(agreement, name) - known_categories)
        if unknown:
            known = _listing(known_categories)
            problems.append((name, f"unknown categories {_listing(unknown)}; known: {known}"))
    unknown_types = sorted(agreement.message_types - known_types)
    if unknown_types:
        problems.append(
            (
                "message_types",
                f"unknown message types {_listing(unknown_types)}; known: {_listing(known_types)}",
            )
        )
    return problems


def _listing(values: Set[str] | list[str]) -> str:
    return ", ".join(sorted(values)) or "(none)"


def _problems(a: Agreement) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for name in ("id", "district"):
        value = getattr(a, name)
        if not isinstance(value, str) or not _CODE.fullmatch(value):
            problems.append(
                (name, f"{value!r} must be 1-100 of A-Z a-z 0-9 . _ - (starting alphanumeric)")
            )
    if isinstance(a.version, bool) or not isinstance(a.version, int) or a.version < 1:
        problems.append(("version", f"{a.version!r} must be an integer >= 1"))
    for name in ("controller_name", "dpo_contact", "processor", "legal_reference"):
        value = getattr(a, name)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
            problems.append((name, f"must be a non-empty text of at most {_MAX_NAME} characters"))
    for name in ("senders", "recipients", "purposes", "message_types", "categories"):
        problems.extend(_set_problems(name, getattr(a, name), required=True))
    problems.extend(_set_problems("subject_categories", a.subject_categories, required=True))
    problems.extend(_set_problems("consent_required", a.consent_required, required=False))
    problems.extend(
        _set_problems("protected_identity_purposes", a.protected_identity_purposes, required=False)
    )
    if isinstance(a.protected_identity_purposes, frozenset) and isinstance(a.purposes, frozenset):
        stray = sorted(a.protected_identity_purposes - a.purposes)
        if stray:
            problems.append(
                (
                    "protected_identity_purposes",
                    f"{_listing(stray)} must also be among the agreement's purposes",
                )
            )
    if not isinstance(a.sub_processors, tuple) or not all(
        isinstance(s, str) and s.strip() for s in a.sub_processors
    ):
        problems.append(("sub_processors", "must be a tuple of non-empty names"))
    if isinstance(a.retention_days, bool) or not isinstance(a.retention_days, int):
        problems.append(("retention_days", "must be an integer"))
    elif a.retention_days < 1:
        problems.append(("retention_days", f"{a.retention_days} must be at least 1"))
    problems.extend(_time_problems(a))
    if a.status not in STATUSES:
        problems.append(("status", f"{a.status!r} must be one of {_listing(STATUSES)}"))
    elif a.status == "revoked" and not (a.revoked_reason and a.revoked_reason.strip()):
        problems.append(("revoked_reason", "a revoked agreement needs the reason it was revoked"))
    elif a.status == "active" and a.revoked_reason is not None:
        problems.append(("revoked_reason", "only a revoked agreement has a revocation reason"))
    if not isinstance(a.changed_by, str):
        problems.append(("changed_by", "must be text"))
    return problems


def _set_problems(name: str, value: object, *, required: bool) -> list[tuple[str, str]]:
    if not isinstance(value, frozenset):
        return [(name, "must be a frozenset of names")]
    if required and not value:
        return [(name, "must name at least one entry")]
    if not all(isinstance(v, str) and v.strip() and len(v) <= _MAX_NAME for v in value):
        return [(name, f"entries must be non-empty texts of at most {_MAX_NAME} characters")]
    return []


def _time_problems(a: Agreement) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    aware: dict[str, datetime] = {}
    for name in ("valid_from", "valid_to", "changed_at"):
        value = getattr(a, name)
        if value is None and name != "valid_from":
            continue
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            problems.append((name, "must be a timezone-aware datetime (UTC)"))
        else:
            aware[name] = value
    if "valid_from" in aware and "valid_to" in aware and aware["valid_to"] <= aware["valid_from"]:
        problems.append(
            (
                "valid_to",
                f"{aware['valid_to'].isoformat()} must be after valid_from "
                f"{aware['valid_from'].isoformat()} (valid_to is exclusive)",
            )
        )
    return problems

"""An agreement version written in a form: the choices a form may offer, the form's fields
turned into an ``Agreement`` with every problem named beside its field, a stored version
compared with the one before it.

The console's agreement form calls these; the rules are the ones every agreement meets
(``contracts.model``'s invariants, the registry's types and categories), read back as a
``{field: message}`` map (``InputError`` with ``fields`` in its context) so that a face can show
each message next to its input. Saving goes through ``import_agreements``: the same district
scope, the same audited version, the same cache invalidation as the API and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Final

from contracts.diff import Change, changes
from contracts.errors import AgreementNotFoundError, InvalidAgreementError
from contracts.model import DEFAULT_CONSENT_REQUIRED, Agreement
from hub.errors import Conflict, InputError
from hub.services.agreements import (
    agreement_history,
    contracts_errors,
    get_agreement,
    import_agreements,
    known_types,
    list_agreements,
)
from hub.services.principal import Principal
from hub.storage import systems as system_rows
from schemas.registry import CATEGORIES

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "AgreementChoices",
    "Form",
    "VersionPair",
    "agreement_choices",
    "agreement_from_form",
    "find_agreements",
    "form_values",
    "save_agreement_form",
    "versions_compared",
]

# A submitted form: every field with its values (a checkbox group has several).
Form = Mapping[str, Sequence[str]]

# Fields whose values are chosen from a list (checkboxes), and fields of free names, written
# one per line or separated by commas.
CHOSEN: Final = ("senders", "recipients", "message_types", "categories", "consent_required")
# protected_identity_purposes: the purposes for which persons with protected identity may pass
# (confidentiality check); a form without the field would drop the term from the next version.
LISTED: Final = ("purposes", "subject_categories", "protected_identity_purposes", "sub_processors")
TEXTS: Final = ("id", "district", "controller_name", "dpo_contact", "processor", "legal_reference")


@dataclass(frozen=True)
class AgreementChoices:
    """What a form may offer: the principal's districts, the registry's message types (and the
    lookups) and data categories, the registered systems and the routed destinations."""

    districts: tuple[str, ...]
    message_types: tuple[str, ...]
    categories: tuple[str, ...]
    senders: tuple[str, ...]
    recipients: tuple[str, ...]


def agreement_choices(
    hub: Hub, principal: Principal, keep: Agreement | None = None
) -> AgreementChoices:
    """``keep``: the version a form amends; the systems it names stay offered even when they
    are not (or no longer) registered, so that saving the form never drops one unasked."""
    current = list_agreements(hub, principal)  # also checks the principal may manage them
    if principal.districts is not None:
        districts = sorted(principal.districts)
    else:
        districts = sorted({a.district for a in current})
    with hub.reader.connect() as conn:
        systems = sorted(s.name for s in system_rows.all_systems(conn) if s.role == "system")
    kept_senders = keep.senders if keep else frozenset()
    kept_recipients = keep.recipients if keep else frozenset()
    return AgreementChoices(
        districts=tuple(districts),
        message_types=tuple(sorted(known_types(hub))),
        categories=tuple(sorted(CATEGORIES)),
        senders=tuple(sorted(set(systems) | kept_senders)),
        recipients=tuple(sorted(set(hub.routing.destinations) | set(systems) | kept_recipients)),
    )


def find_agreements(
    hub: Hub, principal: Principal, *, district: str = "", status: str = "", text: str = ""
) -> list[Agreement]:
    """The latest versions in scope, filtered: a district, a status, and a text found in the
    id, the processor, a purpose, a message type or a sender (case-insensitive)."""
    needle = text.strip().lower()
    return [
        a
        for a in list_agreements(hub, principal)
        if (not district or a.district == district)
        and (not status or a.status == status)
        and (
            not needle
            or needle in a.id.lower()
            or needle in a.processor.lower()
            or any(needle in v.lower() for v in a.purposes | a.message_types | a.senders)
        )
    ]


def form_values(agreement: Agreement | None) -> dict[str, list[str]]:
    """An agreement's fields as a form shows them (a new agreement's defaults for None)."""
    if agreement is None:
        today = datetime.now(UTC).date().isoformat()
        return {"valid_from": [today], "consent_required": sorted(DEFAULT_CONSENT_REQUIRED)}
    values: dict[str, list[str]] = {n: [str(getattr(agreement, n))] for n in TEXTS}
    for name in (*CHOSEN, *LISTED):
        values[name] = sorted(getattr(agreement, name))
    values["sub_processors"] = list(agreement.sub_processors)
    values["valid_from"] = [agreement.valid_from.date().isoformat()]
    values["valid_to"] = [agreement.valid_to.date().isoformat()] if agreement.valid_to else []
    values["retention_days"] = [str(agreement.retention_days)]
    values["base_version"] = [str(agreement.version)]
    return values


def _one(form: Form, name: str) -> str:
    values = form.get(name) or [""]
    return values[0].strip()


def _names(form: Form, name: str) -> list[str]:
    """A list field: every value, each split at commas and line ends, blanks dropped."""
    out: list[str] = []
    for value in form.get(name) or []:
        for part in value.replace("\r", "\n").replace(",", "\n").split("\n"):
            if part.strip() and part.strip() not in out:
                out.append(part.strip())
    return out


def _day(text: str, name: str, problems: dict[str, str]) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
    except ValueError:
        problems[name] = f"{text!r} is not a date (YYYY-MM-DD)"
        return None


def _same_day(day: datetime | None, before: datetime | None) -> datetime | None:
    return before if day and before and day.date() == before.date() else day


def agreement_from_form(
    hub: Hub, principal: Principal, form: Form, *, base: Agreement | None = None
) -> Agreement:
    """The agreement a form describes, as the next version of ``base`` (or a new one).

    Every problem is collected before anything is refused: ``InputError`` (reason
    ``agreement_invalid``) whose context ``fields`` maps each field to its message."""
    problems: dict[str, str] = {}
    choices = agreement_choices(hub, principal, keep=base)
    valid_from = _day(_one(form, "valid_from"), "valid_from", problems)
    if valid_from is None and "valid_from" not in problems:
        problems["valid_from"] = "give the first day the agreement is valid"
    valid_to = _day(_one(form, "valid_to"), "valid_to", problems)
    if base is not None:  # a day the form left as it was keeps the version's exact time
        valid_from = _same_day(valid_from, base.valid_from)
        valid_to = _same_day(valid_to, base.valid_to)
    retention = _one(form, "retention_days")
    if not retention.isdigit():
        problems["retention_days"] = f"{retention!r} is not a whole number of days"
    for name, offered in (
        ("senders", choices.senders),
        ("recipients", choices.recipients),
        ("district", choices.districts),
        ("message_types", choices.message_types),
        ("categories", choices.categories),
        ("consent_required", choices.categories),
    ):
        unknown = sorted(set(_names(form, name)) - set(offered))
        if unknown:
            problems[name] = f"not offered here: {', '.join(unknown)}"
    fields = {n: _one(form, n) for n in TEXTS}
    if base is not None:  # the id and the controller of a version never change
        fields["id"], fields["district"] = base.id, base.district
    try:
        agreement = Agreement(
            **fields,  # type: ignore[arg-type]
            version=base.version + 1 if base else 1,
            **{n: frozenset(_names(form, n)) for n in CHOSEN + LISTED[:3]},  # type: ignore[arg-type]
            sub_processors=tuple(_names(form, "sub_processors")),
            valid_from=valid_from or datetime.now(UTC),
            valid_to=valid_to,
            retention_days=int(retention) if retention.isdigit() else 1,
        )
    except InvalidAgreementError as exc:
        for name, message in exc.problems:
            problems.setdefault(name, message)
        raise _invalid(problems) from exc
    if problems:
        raise _invalid(problems)
    return agreement


def _invalid(problems: dict[str, str]) -> InputError:
    listing = "; ".join(f"{field}: {message}" for field, message in sorted(problems.items()))
    return InputError(f"the agreement is not valid: {listing}", reason="agreement_invalid",
                      fields=dict(problems))  # fmt: skip


def save_agreement_form(
    hub: Hub, principal: Principal, form: Form, agreement_id: str | None = None
) -> Agreement:
    """Store the form as a new agreement (``agreement_id`` None) or as the next version of
    ``agreement_id``. A form made from a version that is no longer the latest is refused
    (``Conflict``): someone else changed the agreement meanwhile."""
    base = get_agreement(hub, principal, agreement_id) if agreement_id else None
    if base is not None and _one(form, "base_version") != str(base.version):
        raise Conflict(
            f"agreement {base.id} is at version {base.version}; the form was made from version "
            f"{_one(form, 'base_version') or '?'}. Open it again and redo the change.",
            reason="agreement_conflict",
        )
    agreement = agreement_from_form(hub, principal, form, base=base)
    if base is None:
        with contracts_errors(), hub.reader.connect() as conn:
            try:
                hub.agreement_store.get(conn, agreement.id)
            except AgreementNotFoundError:
                pass
            else:
                raise _invalid({"id": f"an agreement {agreement.id} exists already"})
    return import_agreements(hub, principal, [agreement])[0]


@dataclass(frozen=True)
class VersionPair:
    """A version beside the one before it (None for the first) and what changed."""

    version: Agreement
    previous: Agreement | None
    changes: tuple[Change, ...]


def versions_compared(hub: Hub, principal: Principal, agreement_id: str) -> list[VersionPair]:
    """Every version of an agreement, newest first, each with its changes."""
    history = agreement_history(hub, principal, agreement_id)
    pairs = [
        VersionPair(v, prev, tuple(changes(prev, v)) if prev else ())
        for prev, v in zip([None, *history[:-1]], history, strict=True)
    ]
    return pairs[::-1]

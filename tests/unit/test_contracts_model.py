"""The Agreement model: invariants, UTC normalisation, half-open validity, references."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from contracts.errors import InvalidAgreementError
from contracts.model import DEFAULT_CONSENT_REQUIRED, Agreement, unknown_references

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)


def make(**overrides: object) -> Agreement:
    fields: dict[str, object] = {
        "id": "PUB-2026-014",
        "version": 1,
        "district": "sdn-sodermalm",
        "controller_name": "Södermalms stadsdelsnämnd",
        "dpo_contact": "dpo@example.org",
        "processor": "aldre-direkt",
        "senders": frozenset({"paraplyet-sodermalm"}),
        "recipients": frozenset({"aldre-direkt"}),
        "purposes": frozenset({"answer-enquiry"}),
        "message_types": frozenset({"client.summary"}),
        "categories": frozenset({"identity", "decisions"}),
        "subject_categories": frozenset({"elderly care clients"}),
        "valid_from": START,
        "valid_to": END,
        "retention_days": 30,
        "legal_reference": "Dnr 1/2026",
    }
    fields.update(overrides)
    return Agreement(**fields)  # type: ignore[arg-type]


def test_ref_is_id_at_version() -> None:
    assert make(version=3).ref == "PUB-2026-014@3"


def test_defaults_follow_the_seeds() -> None:
    agreement = make()
    assert agreement.consent_required == frozenset({"decisions", "fees", "invoices"})
    assert agreement.consent_required is DEFAULT_CONSENT_REQUIRED
    assert agreement.status == "active"
    assert agreement.changed_at is None


def test_times_are_normalised_to_utc() -> None:
    stockholm = timezone(timedelta(hours=1))
    agreement = make(valid_from=datetime(2026, 1, 1, tzinfo=stockholm))
    assert agreement.valid_from.utcoffset() == timedelta(0)
    assert agreement.valid_from == datetime(2025, 12, 31, 23, tzinfo=UTC)


def test_validity_is_half_open() -> None:
    agreement = make()
    tick = timedelta(microseconds=1)
    assert not agreement.is_valid_at(START - tick)
    assert agreement.is_valid_at(START)
    assert agreement.is_valid_at(END - tick)
    assert not agreement.is_valid_at(END)
    assert make(valid_to=None).is_valid_at(datetime(2999, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"valid_from": datetime(2026, 1, 1)}, "valid_from"),
        ({"valid_to": START}, "valid_to"),
        ({"valid_to": START - timedelta(days=1)}, "valid_to"),
        ({"version": 0}, "version"),
        ({"id": "has space"}, "id"),
        ({"id": "PUB@2"}, "id"),
        ({"district": ""}, "district"),
        ({"purposes": frozenset()}, "purposes"),
        ({"categories": frozenset({" "})}, "categories"),
        ({"retention_days": 0}, "retention_days"),
        ({"status": "paused"}, "status"),
        ({"status": "revoked"}, "revoked_reason"),
        ({"revoked_reason": "why"}, "revoked_reason"),
        ({"controller_name": "  "}, "controller_name"),
    ],
)
def test_invariants_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAgreementError) as caught:
        make(**overrides)
    assert field in [name for name, _message in caught.value.problems]


def test_revoked_with_reason_is_valid() -> None:
    revoked = replace(make(), status="revoked", revoked_reason="processor changed")
    assert revoked.status == "revoked"


def test_unknown_references_lists_unknown_categories_and_types() -> None:
    agreement = make(
        categories=frozenset({"identity", "genome"}),
        message_types=frozenset({"client.summary", "pizza.order"}),
    )
    problems = dict(
        unknown_references(
            agreement,
            known_categories=frozenset({"identity", "decisions", "fees", "invoices"}),
            known_types=frozenset({"client.summary"}),
        )
    )
    assert set(problems) == {"categories", "message_types"}
    assert "genome" in problems["categories"]
    assert "pizza.order" in problems["message_types"]


def test_unknown_references_empty_when_all_known() -> None:
    known = frozenset({"identity", "decisions", "fees", "invoices"})
    assert unknown_references(make(), known_categories=known, known_types={"client.summary"}) == []

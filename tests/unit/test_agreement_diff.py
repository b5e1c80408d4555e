"""What changed between two versions of an agreement (``contracts.diff``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from contracts.diff import TERMS, Change, changes, show
from tests.unit.test_contracts_model import make


def test_equal_versions_have_no_changes() -> None:
    a = make()
    assert changes(a, replace(a, version=2, changed_by="someone else")) == []


def test_sets_name_what_was_added_and_removed() -> None:
    a = make()
    b = replace(
        a,
        version=2,
        purposes=frozenset({"answer-enquiry", "refer-case"}),
        categories=frozenset({"identity"}),
    )
    found = {c.field: c for c in changes(a, b)}
    assert set(found) == {"purposes", "categories"}
    assert found["purposes"].added == ("refer-case",)
    assert found["purposes"].removed == ()
    assert found["categories"].removed == ("decisions",)
    assert found["categories"].after == "identity"


def test_plain_fields_and_times_read_as_text_in_terms_order() -> None:
    a = make()
    b = replace(a, retention_days=90, valid_to=None, processor="kontaktcenter")
    assert changes(a, b) == [
        Change("processor", "aldre-direkt", "kontaktcenter"),
        Change("valid_to", "2027-01-01 00:00 UTC", ""),
        Change("retention_days", "30", "90"),
    ]
    assert [c.field for c in changes(a, b)] == sorted(
        (c.field for c in changes(a, b)), key=TERMS.index
    )


def test_show() -> None:
    assert show(frozenset({"b", "a"})) == "a, b"
    assert show(("x", "y")) == "x, y"
    assert show(datetime(2026, 3, 4, 5, 6, tzinfo=UTC)) == "2026-03-04 05:06 UTC"
    assert show(None) == ""

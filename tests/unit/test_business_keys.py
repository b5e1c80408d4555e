"""Business keys: declared per type, read from the parsed body, HMAC-ed where protected."""

from __future__ import annotations

import random

import pytest
from lxml import etree

from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.ingest.keys import stored_keys
from hub.keys.crypto import Hmacs
from schemas.business_keys import BusinessKey, KeyValue, read_keys
from schemas.envelope import read_envelope
from schemas.registry import default_registry

NS = "urn:test:keys:1"
BODY = etree.fromstring(
    f'<Doc xmlns="{NS}"><CaseId> AD-2026-000017 </CaseId><Urgency>urgent</Urgency>'
    '<Unit id="u-7">Hemtjänst Söder</Unit><Empty/></Doc>'
)


def test_values_are_read_from_elements_and_attributes() -> None:
    keys = (
        BusinessKey("case_id", "CaseId"),
        BusinessKey("urgency", "Urgency", protected=False),
        BusinessKey("unit", "Unit/@id", protected=False),
        BusinessKey("absent", "Nothing/Here"),
        BusinessKey("empty", "Empty"),
        BusinessKey("no_attribute", "Urgency/@id"),
    )
    assert read_keys(keys, BODY) == (
        KeyValue("case_id", "AD-2026-000017", True),
        KeyValue("urgency", "urgent", False),
        KeyValue("unit", "u-7", False),
    )


def test_nested_paths_the_first_match_and_comments() -> None:
    body = etree.fromstring(
        f'<Doc xmlns="{NS}"><!-- a note --><Party><Id>p-1</Id></Party>'
        "<Party><Id>p-2</Id></Party><Ref>first</Ref><Ref>second</Ref></Doc>"
    )
    keys = (
        BusinessKey("party", "Party/Id", protected=False),
        BusinessKey("ref", "Ref", protected=False),
        BusinessKey("party_again", "Party/Id", protected=False),
    )
    assert [(k.name, k.value) for k in read_keys(keys, body)] == [
        ("party", "p-1"),
        ("ref", "first"),
        ("party_again", "p-1"),
    ]


def test_a_protected_value_never_shows_in_a_repr() -> None:
    (found,) = read_keys((BusinessKey("case_id", "CaseId"),), BODY)
    assert "AD-2026" not in repr(found)
    assert "urgent" in repr(KeyValue("urgency", "urgent", False))


@pytest.mark.parametrize(
    ("name", "path"), [("Case", "CaseId"), ("case_id", "/CaseId"), ("case_id", "a//b")]
)
def test_bad_declarations_are_refused(name: str, path: str) -> None:
    with pytest.raises(ValueError, match="business key"):
        BusinessKey(name, path)


def test_a_plain_value_longer_than_its_column_is_not_stored() -> None:
    body = etree.fromstring(f'<Doc xmlns="{NS}"><Long>{"x" * 201}</Long></Doc>')
    assert read_keys((BusinessKey("long", "Long", protected=False),), body) == ()
    assert len(read_keys((BusinessKey("long", "Long"),), body)) == 1  # HMAC-ed: fits


def test_the_registry_declares_the_referral_and_reply_keys() -> None:
    registry = default_registry()
    referral = {k.name: k.protected for k in registry.get("case.referral", "1").keys}
    assert referral == {
        "case_id": True,
        "urgency": False,
        "affected_unit": False,
        "registered_at": False,
        "main_category": False,
        "case_type": False,
        "case_class": False,
        "ordering_unit": False,
    }
    reply = {k.name: k.protected for k in registry.get("mailbox.message", "1").keys}
    assert set(reply) == {"sdk_message_id", "sdk_conversation_id", "sdk_ref_to_message_id"}
    assert {k.name for k in registry.get("case.execution_event", "1").keys} == {"decision_id"}


def test_ingest_stores_the_case_number_only_as_its_hmac() -> None:
    hmacs = Hmacs(bytes(range(32)))
    person = next(iter(FictionalPeople(3)))
    envelope = read_envelope(
        referral_envelope(person, "sdn-sodermalm", random.Random(3)), default_registry()
    )
    stored = dict(stored_keys(envelope, hmacs))
    case_id = envelope.body.findtext(f"{{{etree.QName(envelope.body).namespace}}}CaseId")
    assert case_id is not None
    assert case_id.startswith("AD-")
    assert stored["case_id"] == hmacs.business_key(case_id)
    assert case_id not in stored.values()
    assert stored["urgency"] in {"normal", "urgent"}
    # The key's name is not bound into the HMAC: another type's answers_referral matches it.
    assert hmacs.business_key(case_id) != hmacs.subject_ref(case_id)

"""MedCom CareCommunication: the mapping both ways, MedCom's rules, acknowledgements, the
``[medcom]`` routing. No I/O."""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

import adapters
from hub.demo.fictional import FictionalPeople
from hub.demo.medcom_world import care_communication
from hub.errors import ConfigError
from hub.ingest.medcom_routing import parse_medcom, receiver_for
from schemas.medcom.acknowledgement import build_acknowledgement, read_acknowledgement
from schemas.medcom.document import CareCommunication, from_element, to_xml
from schemas.medcom.message import build_message, to_json
from schemas.medcom.reading import Invalid, Issue, read_message
from schemas.parser import parse_xml
from schemas.registry import default_registry

PEOPLE = FictionalPeople(3, kind="cpr").take(5)
HEADER = "42cb9200-f421-4d08-8391-7d51a2503cb4"
STAMP = "2026-12-07T10:00:00+01:00"


def _doc(**changes: Any) -> CareCommunication:
    doc = care_communication(PEOPLE[0], random.Random(1), attachment=True)
    return replace(doc, **changes)


def _bundle(doc: CareCommunication | None = None, bundle_id: str | None = None) -> dict[str, Any]:
    built = build_message(doc or _doc(), HEADER, bundle_id or str(uuid.uuid4()), STAMP)
    data: dict[str, Any] = json.loads(to_json(built))
    return data


def _resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind
    )
    return found


def test_the_document_is_valid_for_its_xsd_and_reads_back_to_the_same_bytes() -> None:
    registry = default_registry()
    data = to_xml(_doc(priority=None, topic="Udskrivelse"))
    element = parse_xml(data)
    registry.validate(registry.get("care.communication", "1"), element)
    assert to_xml(from_element(element)) == data


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"category": "regarding-referral", "priority": "asap"},
        {"category": "other", "topic": "Spørgsmål om hjælpemidler"},
        {"activity": "reply-message"},
    ],
)
def test_fhir_and_back_is_the_same_document(changes: dict[str, str]) -> None:
    doc = _doc(**changes)
    read = read_message(json.dumps(_bundle(doc)).encode())
    assert read.header_id == HEADER
    assert read.timestamp == STAMP
    assert to_xml(replace(read.document, header_id=None)) == to_xml(doc)


def test_a_resend_differs_only_in_bundle_id_and_timestamp() -> None:
    doc = _doc()
    first = build_message(doc, HEADER, str(uuid.uuid4()), STAMP)
    second = build_message(doc, HEADER, str(uuid.uuid4()), "2026-12-07T11:00:00+01:00")
    one, two = json.loads(to_json(first)), json.loads(to_json(second))
    assert one["id"] != two["id"]
    assert one["timestamp"] != two["timestamp"]
    assert one["entry"] == two["entry"]  # the same message, resource for resource


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set ``Kind.key.key`` (``Kind`` a resource type, ``Bundle`` the bundle) to ``value``."""
    kind, *keys = path.split(".")

    def change(bundle: dict[str, Any]) -> None:
        target: Any = bundle if kind == "Bundle" else _resource(bundle, kind)
        for key in keys[:-1]:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is None:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value

    return change


def _drop(kind: str) -> Callable[[dict[str, Any]], None]:
    def change(bundle: dict[str, Any]) -> None:
        bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != kind]

    return change


def _no_receiver_ean(bundle: dict[str, Any]) -> None:
    receiver = bundle["entry"][2]["resource"]  # sender, then receiver (schemas.medcom.message)
    receiver["identifier"] = receiver["identifier"][:1]


BROKEN: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    "unknown category": (
        _set("Communication.category.0.coding.0.code", "gossip"),
        "MSG_VALUESET_VALUE_UNKNOWN",
        "category",
    ),
    "no profile": (_set("Bundle.meta", None), "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE", "Bundle"),
    "another event": (
        _set("MessageHeader.eventCoding.code", "hospital-notification-message"),
        "MSG_RECEIVER_UNABLE_TO_RECEIVE_MSG_TYPE",
        "eventCoding",
    ),
    "no EAN of the receiver": (_no_receiver_ean, "MSG_Receiver_Identifier_MISSING", "EAN"),
    "a receiver not in the bundle": (
        _set("MessageHeader.destination.0.receiver.reference", "urn:uuid:nowhere"),
        "MSG_LOCAL_FAIL",
        "receiver",
    ),
    "no patient": (_drop("Patient"), "MSG_RESOURCE_REQUIRED", "Patient"),
    "CPR of the wrong shape": (
        _set("Patient.identifier.0.value", "12345"),
        "MSG_Datatype_Wrong",
        "CPR",
    ),
    "priority without a referral": (
        _set("Communication.priority", "asap"),
        "MSG_VALUESET_VALUE_UNKNOWN",
        "priority",
    ),
    "status other than unknown": (
        _set("Communication.status", "completed"),
        "MSG_VALUESET_VALUE_UNKNOWN",
        "status",
    ),
    "an element FHIR does not know": (
        _set("Patient.shoeSize", 42),
        "MSG_BAD_SYNTAX",
        "shoeSize",
    ),
    "no provenance": (_drop("Provenance"), "MSG_RESOURCE_REQUIRED", "Provenance"),
    "a text without its author's contact": (
        _set("Communication.payload.0.extension", []),
        "MSG_RESOURCE_REQUIRED",
        "payload[0]",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_rule_is_named_with_its_code(name: str) -> None:
    change, code, words = BROKEN[name]
    bundle = copy.deepcopy(_bundle())
    change(bundle)
    with pytest.raises(Invalid) as caught:
        read_message(json.dumps(bundle).encode())
    codes = [i.code for i in caught.value.issues]
    assert code in codes, caught.value
    assert any(words in i.text for i in caught.value.issues if i.code == code)
    assert caught.value.header_id == HEADER  # still acknowledgeable
    assert PEOPLE[0].identity.canonical not in str(caught.value)


def test_other_with_a_topic_is_needed() -> None:
    bundle = _bundle(_doc(category="other", topic="Emne"))
    del _resource(bundle, "Communication")["topic"]
    with pytest.raises(Invalid, match="topic"):
        read_message(json.dumps(bundle).encode())


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"resourceType": "Patient"}'])
def test_what_is_no_bundle_cannot_be_acknowledged(body: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        read_message(body)
    assert caught.value.header_id is None
    assert caught.value.issues[0].code == "MSG_JSON_OBJECT"


def test_acknowledgements_read_back_and_are_the_same_bytes_when_built_again() -> None:
    doc = _doc()
    made = {
        "acked_header_id": HEADER,
        "acked_bundle_id": "b0000000-0000-4000-8000-000000000001",
        "code": "fatal-error",
        "timestamp": STAMP,
        "issues": (Issue("MSG_VALUESET_VALUE_UNKNOWN", "Communication.category"),),
        "sender": doc.receiver,
        "receiver": doc.sender,
    }
    ack = build_acknowledgement(**made)  # type: ignore[arg-type]
    assert build_acknowledgement(**made) == ack  # type: ignore[arg-type]
    read = read_acknowledgement(ack)
    assert (read.code, read.acked_header_id) == ("fatal-error", HEADER)
    assert read.acked_bundle_id == "b0000000-0000-4000-8000-000000000001"
    assert [i.code for i in read.issues] == ["MSG_VALUESET_VALUE_UNKNOWN"]
    bundle = json.loads(ack)
    header = bundle["entry"][0]["resource"]
    assert header["eventCoding"]["code"] == "acknowledgement-message"
    assert header["response"]["code"] == "fatal-error"
    outcome = _resource(bundle, "OperationOutcome")
    assert outcome["issue"][0]["details"]["coding"][0]["system"].endswith(
        "medcom-acknowledgement-error-codes"
    )


def test_a_negative_acknowledgement_needs_its_issues() -> None:
    with pytest.raises(ValueError, match="issues"):
        build_acknowledgement(
            acked_header_id=HEADER, acked_bundle_id=None, code="transient-error", timestamp=STAMP
        )
    with pytest.raises(ValueError, match="not a MessageHeader with a response"):
        read_acknowledgement(to_json(build_message(_doc(), HEADER, str(uuid.uuid4()), STAMP)))


def test_medcom_receivers_are_strict() -> None:
    receivers = parse_medcom(
        {"receivers": [{"sor": "100000000000011", "ean": "5790000000011", "district": "d"}]},
        "routes.toml",
    )
    assert receiver_for(receivers, "100000000000011", "5790000000011") is not None
    assert receiver_for(receivers, "100000000000011", "5790000000099") is None
    assert receivers[0].purpose == "care_communication"
    with pytest.raises(ConfigError, match="unknown key 'sorr'"):
        parse_medcom({"receivers": [{"sorr": "1", "district": "d"}]}, "routes.toml")
    with pytest.raises(ConfigError, match="'ean' must be 13 digits"):
        parse_medcom({"receivers": [{"sor": "123456", "ean": "1", "district": "d"}]}, "r")
    twice = [{"sor": "123456", "district": "d"}, {"sor": "123456", "district": "e"}]
    with pytest.raises(ConfigError, match="listed twice"):
        parse_medcom({"receivers": twice}, "r")


def test_the_example_routing_section_reads() -> None:
    from pathlib import Path

    from hub.ingest.routing import load_routing
    from hub.outbox.retry import RetryPolicy

    example = Path(__file__).parents[2] / "docs" / "examples" / "routes-medcom.toml"
    table = load_routing(example, RetryPolicy())
    [receiver] = table.medcom_receivers
    assert receiver.recipients == ("fiktiv-omsorg-indbakke",)
    gp = table.destination("medcom-laegehus")
    assert adapters.create(gp.adapter, gp.name, gp.options).name == "medcom-laegehus"

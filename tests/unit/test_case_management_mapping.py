"""The case-management adapter's mapping, without any network: hub documents -> SOAP requests
(valid against the contract's XSDs and lossless) and identity numbers -> RIVTA person ids."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
import zeep
import zeep.exceptions
from lxml import etree

from adapters.case_management.adapter import (
    PACKAGED_WSDL,
)
from adapters.case_management.mapping import (
    OID_CPR,
    OID_PERSONNUMMER,
    OID_SAMORDNINGSNUMMER,
    canonical_person_id,
    execution_event_request,
    person_id,
    referral_request,
)
from adapters.doubles.case_management_soap import (
    CORE_NS,
    RESPONDER_NS,
    SOAP_ENV,
    ServiceContract,
    SoapFault,
    execution_event_document,
    referral_document,
)
from hub.demo.fictional import FictionalPeople, referral_body
from hub.errors import (
    PermanentDeliveryError,
)
from hub.ingest.identity import parse_identity
from schemas.errors import SchemaError
from schemas.parser import parse_xml
from schemas.registry import MessageType, Registry
from tests.unit.case_management_mapping_support import (
    EVENT_NS,
    FULL_REFERRAL,
    MINIMAL_REFERRAL,
    delivery_of,
    event_body,
)

# -- case.referral -> ReferCase ------------------------------------------------------------------


def test_every_referral_field_is_mapped() -> None:
    assert referral_request(delivery_of(FULL_REFERRAL)) == {
        "idempotencyKey": "dlv-000001",
        "sourceSystem": "aldre-direkt",
        "caseReferral": {
            "caseId": "AD-2024-000042",
            "registeredAt": "2024-02-05T10:15:00+01:00",
            "mainCategory": "elderly_care",
            "caseType": "invoice_fee",  # xs:token: whitespace collapsed
            "caseClass": "status_existing",
            "affectedUnit": {
                "kind": "provider",
                "unitId": "prov-testvard",
                "name": "Testvård Hemtjänst AB",
            },
            "urgency": "urgent",
            "callback": {
                "phone": "070-1740605",
                "preferredTime": {"from": "13:00:00", "to": "16:00:00"},
            },
            "language": "fi",
            "freeText": "  Avgiften har höjts & <frågar> varför.\nRing efter 13.",  # xs:string
            "subject": {
                "subjectId": {"id": "191212121212", "type": OID_PERSONNUMMER},
                "name": "Tolvan Tolvansson",
            },
            "responsibleOfficer": {"officerId": "hl-4711", "name": "Handla Läggarsson"},
            "orderingUnit": "sodermalm-bistand-aldre",
        },
    }


def test_absent_optional_referral_fields_are_none() -> None:
    referral = referral_request(delivery_of(MINIMAL_REFERRAL))["caseReferral"]
    assert isinstance(referral, dict)
    assert referral["affectedUnit"] == {
        "kind": "unit",
        "unitId": None,
        "name": "Provbackens hemtjänstgrupp",
    }
    assert (referral["callback"], referral["language"], referral["responsibleOfficer"]) == (
        None,
        None,
        None,
    )
    assert referral["subject"] == {"subjectId": {"id": "0102034567", "type": OID_CPR}, "name": "N"}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"<CaseReferral xmlns='urn:omsorgshub:case.referral:1'>", "not well-formed"),
        (
            b"<!DOCTYPE CaseReferral [<!ENTITY x 'y'>]>"
            b"<CaseReferral xmlns='urn:omsorgshub:case.referral:1'/>",
            "DOCTYPE",
        ),
        (b"<Visit xmlns='urn:omsorgshub:timereport.visit:1'/>", "root"),
        (FULL_REFERRAL.replace(b"<Urgency>urgent</Urgency>", b""), "Urgency is missing"),
    ],
)
def test_a_document_that_cannot_be_mapped_is_permanent(document: bytes, problem: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=problem) as caught:
        referral_request(delivery_of(document))
    assert caught.value.reason == "document_invalid"


# -- case.execution_event -> ReportExecutionEvent ------------------------------------------------


def test_every_execution_event_field_is_mapped() -> None:
    body = event_body(subject="121212+1212", kind="interrupted", note="Vistas på sjukhus.")
    assert execution_event_request(delivery_of(body, "case.execution_event")) == {
        "idempotencyKey": "dlv-000001",
        "sourceSystem": "aldre-direkt",
        "executionEvent": {
            "eventId": "EV-1",
            "decisionId": "B-SOD-001-1",
            "subjectId": {"id": "191212121212", "type": OID_PERSONNUMMER},
            "law": "SoL",
            "eventKind": "interrupted",
            "eventDate": "2024-03-01",
            "decisionDate": "2024-01-15",
            "note": "Vistas på sjukhus.",
        },
    }


def test_the_execution_event_schema_accepts_events_and_refuses_unknown_laws_and_kinds() -> None:
    registry = Registry(
        [
            MessageType(
                name="case.execution_event",
                version="1",
                xsd="case.execution_event-1.xsd",
                root=f"{{{EVENT_NS}}}ExecutionEvent",
                categories=frozenset({"identity", "case", "decisions"}),
                description="an execution event",
            )
        ]
    )
    event_type = registry.get("case.execution_event", "1")
    for kind in ("executed", "interrupted", "resumed", "closed"):
        registry.validate(event_type, parse_xml(event_body(kind=kind, law="LSS", note="n")))
    registry.validate(event_type, parse_xml(event_body(subject="0102034567", scheme="dk")))
    for bad in (event_body(law="HSL"), event_body(kind="started"), event_body(note="")):
        with pytest.raises(SchemaError) as caught:
            registry.validate(event_type, parse_xml(bad))
        assert caught.value.reason == "schema_invalid"


# -- identity numbers -> RIVTA person ids --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "expected"),
    [
        ("19121212-1212", "se", ("191212121212", OID_PERSONNUMMER)),
        ("191212121212", "se", ("191212121212", OID_PERSONNUMMER)),
        ("121212-1212", "se", ("201212121212", OID_PERSONNUMMER)),  # '-': within 100 years
        ("1212121212", "se", ("201212121212", OID_PERSONNUMMER)),
        ("121212+1212", "se", ("191212121212", OID_PERSONNUMMER)),  # '+': 100 or older
        ("240101-0008", "se", ("202401010008", OID_PERSONNUMMER)),  # this year
        ("241231-0008", "se", ("202412310008", OID_PERSONNUMMER)),  # by calendar year
        ("250101-0008", "se", ("192501010008", OID_PERSONNUMMER)),  # next year: last century
        ("230101+0008", "se", ("192301010008", OID_PERSONNUMMER)),  # '+': a century earlier
        ("19380172-0004", "se", ("193801720004", OID_SAMORDNINGSNUMMER)),  # day + 60
        ("010203-4567", "dk", ("0102034567", OID_CPR)),
        ("0102034567", "dk", ("0102034567", OID_CPR)),
        (" 19121212-1212 ", "se", ("191212121212", OID_PERSONNUMMER)),
    ],
)
def test_person_ids(text: str, scheme: str, expected: tuple[str, str]) -> None:
    assert person_id(text, scheme, date(2024, 5, 2)) == {"id": expected[0], "type": expected[1]}


def test_person_ids_agree_with_the_hubs_identity_rules() -> None:
    # The adapter may not import hub.ingest.identity; its copy of the century rule must agree.
    reference = date(2024, 5, 2)
    for person in FictionalPeople(3).take(400):
        canonical = person.identity.canonical
        spellings = [person.identity.formatted(), canonical]
        if person.identity.scheme == "se":
            century_passed = reference.year - person.identity.birth_date.year >= 100
            spellings.append(canonical[2:8] + ("+" if century_passed else "-") + canonical[8:])
        for text in spellings:
            expected = parse_identity(text, person.identity.scheme, today=reference).canonical
            assert person_id(text, person.identity.scheme, reference)["id"] == expected


def test_the_century_comes_from_the_arrival_at_the_hub_not_from_today() -> None:
    # Born 1 January 1925, written with '-' in 2024 (under 100 that year). Delivered after a
    # long retry in 2025 or later, the ten digits alone would read as 2025.
    body = FULL_REFERRAL.replace(b"19121212-1212", b"250101-0008")
    late = replace(delivery_of(body), created_at=datetime(2024, 12, 31, 23, 0, tzinfo=UTC))
    referral = referral_request(late)["caseReferral"]
    assert isinstance(referral, dict)
    assert referral["subject"]["subjectId"]["id"] == "192501010008"


@pytest.mark.parametrize(
    ("text", "scheme"),
    [
        ("19121212-121", "se"),
        ("1912121212123", "se"),
        ("19121212-12a2", "se"),
        ("١٩١٢١٢١٢١٢١٢", "se"),  # Arabic-Indic digits are digits, but not ASCII ones
        ("0102034567", "no"),
        ("010203-456", "dk"),
    ],
)
def test_malformed_identity_numbers_are_permanent_and_not_repeated(text: str, scheme: str) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        person_id(text, scheme, date(2024, 5, 2))
    assert caught.value.reason == "document_invalid"
    assert text.strip() not in str(caught.value)


def test_lookup_subjects_are_canonical_numbers() -> None:
    assert canonical_person_id("191212121212") == {"id": "191212121212", "type": OID_PERSONNUMMER}
    assert canonical_person_id("193801720004")["type"] == OID_SAMORDNINGSNUMMER
    assert canonical_person_id("0102034567") == {"id": "0102034567", "type": OID_CPR}
    for bad in (None, "", "19121212-1212", "12345", "١٩١٢١٢١٢١٢١٢"):
        with pytest.raises(PermanentDeliveryError) as caught:
            canonical_person_id(bad)
        assert caught.value.reason == "invalid_subject"
        assert "1212" not in str(caught.value)


# -- the SOAP requests: valid against the contract, and lossless ---------------------------------


@pytest.fixture(scope="module")
def offline_client() -> Any:
    settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True)
    return cast(Any, zeep).Client(str(PACKAGED_WSDL), settings=settings)


@pytest.fixture(scope="module")
def contract() -> ServiceContract:
    return ServiceContract.load("http://127.0.0.1:9/unused")


def soap_payload(client: Any, operation: str, arguments: dict[str, object]) -> Any:
    """The Body element zeep would send, rendered offline, and the LogicalAddress header."""
    envelope = client.create_message(
        client.service, operation, **arguments, _soapheaders={"LogicalAddress": "sdn-sodermalm"}
    )
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    address = envelope.find(f"{{{SOAP_ENV}}}Header/{{urn:riv:itintegration:registry:1}}*")
    return body[0], address


def fictional_referrals(count: int) -> Iterator[bytes]:
    rng = random.Random(20240502)
    for person in FictionalPeople(11).take(count):
        yield referral_body(person, "sdn-sodermalm", rng)


def test_fictional_referrals_map_to_valid_requests_and_back_byte_for_byte(
    offline_client: Any, contract: ServiceContract
) -> None:
    kinds = set()
    for document in fictional_referrals(300):
        payload, address = soap_payload(
            offline_client, "ReferCase", referral_request(delivery_of(document))
        )
        contract.validate("ReferCase", payload, address)
        item = payload.find(f"{{{RESPONDER_NS['ReferCase']}}}caseReferral")
        assert referral_document(etree.tostring(item)) == document
        kinds.add(item.findtext(f".//{{{CORE_NS}}}type"))
    assert kinds == {OID_PERSONNUMMER, OID_SAMORDNINGSNUMMER, OID_CPR}


def test_execution_events_map_to_valid_requests_and_back(
    offline_client: Any, contract: ServiceContract
) -> None:
    rng = random.Random(7)
    for n, person in enumerate(FictionalPeople(5).take(60)):
        body = event_body(
            event_id=f"EV-{n}",
            subject=person.identity.formatted(),
            scheme=person.identity.scheme,
            law=rng.choice(("SoL", "LSS")),
            kind=rng.choice(("executed", "interrupted", "resumed", "closed")),
            note=rng.choice((None, "Åter från korttidsvistelse & sjukhus <3 dagar>.")),
        )
        arguments = execution_event_request(delivery_of(body, "case.execution_event"))
        payload, address = soap_payload(offline_client, "ReportExecutionEvent", arguments)
        contract.validate("ReportExecutionEvent", payload, address)
        item = payload.find(f"{{{RESPONDER_NS['ReportExecutionEvent']}}}executionEvent")
        assert execution_event_document(etree.tostring(item)) == body


def test_the_contract_refuses_a_request_that_breaks_a_facet(
    offline_client: Any, contract: ServiceContract
) -> None:
    arguments = referral_request(delivery_of(FULL_REFERRAL))
    # Any name the hub accepts for a system is a valid sourceSystem ...
    payload, address = soap_payload(
        offline_client, "ReferCase", {**arguments, "sourceSystem": "Äldre_direkt.v2-1"}
    )
    contract.validate("ReferCase", payload, address)
    # ... but not one with a space.
    payload, address = soap_payload(
        offline_client, "ReferCase", {**arguments, "sourceSystem": "not a system name"}
    )
    with pytest.raises(SoapFault) as caught:
        contract.validate("ReferCase", payload, address)
    assert (caught.value.side, caught.value.error_code) == ("Client", "validation_failed")

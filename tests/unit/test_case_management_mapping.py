"""The case-management adapter's mapping, without any network: hub documents -> SOAP requests
(valid against the contract's XSDs and lossless), identity numbers -> RIVTA person ids, SOAP
answers -> lookup results, and zeep/requests failures -> hub errors."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree

from adapters.case_management.adapter import (
    DIALECT,
    PACKAGED_WSDL,
    TRANSIENCE,
    CaseManagementAdapter,
)
from adapters.case_management.mapping import (
    OID_CPR,
    OID_PERSONNUMMER,
    OID_SAMORDNINGSNUMMER,
    canonical_person_id,
    client_summary_result,
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
from adapters.soap import fault_code, map_soap_outcome
from hub.demo.fictional import FictionalPeople, FictionalPerson, referral_body
from hub.envelope import OutboundDelivery
from hub.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from hub.ingest.identity import parse_identity
from schemas.errors import SchemaError
from schemas.parser import parse_xml
from schemas.registry import MessageType, Registry

# zeep has no type annotations: its exceptions, typed loosely once here.
_Raise = Callable[..., Exception]
Fault = cast(_Raise, zeep.exceptions.Fault)
TransportError = cast(_Raise, zeep.exceptions.TransportError)
DTDForbidden = cast(_Raise, zeep.exceptions.DTDForbidden)
EntitiesForbidden = cast(_Raise, zeep.exceptions.EntitiesForbidden)
ValidationError = cast(_Raise, zeep.exceptions.ValidationError)
XMLParseError = cast(_Raise, zeep.exceptions.XMLParseError)

EVENT_NS = "urn:omsorgshub:case.execution_event:1"
REFERRAL_NS = "urn:omsorgshub:case.referral:1"
TOLVAN = FictionalPerson("Tolvan", "Tolvansson", parse_identity("191212121212"))
ARRIVED = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)

FULL_REFERRAL = """<?xml version="1.0" encoding="UTF-8"?>
<CaseReferral xmlns="urn:omsorgshub:case.referral:1">
  <CaseId>AD-2024-000042</CaseId>
  <RegisteredAt>2024-02-05T10:15:00+01:00</RegisteredAt>
  <MainCategory>elderly_care</MainCategory>
  <CaseType> invoice_fee </CaseType>
  <CaseClass>status_existing</CaseClass>
  <AffectedUnit kind="provider" id="prov-testvard">Testvård  Hemtjänst AB</AffectedUnit>
  <Urgency>urgent</Urgency>
  <Callback>
    <Phone>070-1740605</Phone>
    <PreferredTime from="13:00:00" to="16:00:00"/>
  </Callback>
  <Language>fi</Language>
  <FreeText>  Avgiften har höjts &amp; &lt;frågar&gt; varför.
Ring efter 13.</FreeText>
  <DataSubject>
    <IdentityNumber scheme="se">19121212-1212</IdentityNumber>
    <Name>Tolvan Tolvansson</Name>
  </DataSubject>
  <ResponsibleOfficer>
    <Id>hl-4711</Id>
    <Name>Handla Läggarsson</Name>
  </ResponsibleOfficer>
</CaseReferral>
""".encode()

MINIMAL_REFERRAL = b"""<CaseReferral xmlns="urn:omsorgshub:case.referral:1">
  <CaseId>AD-1</CaseId><RegisteredAt>2024-02-05T10:15:00Z</RegisteredAt>
  <MainCategory>other</MainCategory><CaseType>other</CaseType><CaseClass>information</CaseClass>
  <AffectedUnit kind="unit">Provbackens hemtj\xc3\xa4nstgrupp</AffectedUnit>
  <Urgency>normal</Urgency>
  <FreeText>x</FreeText>
  <DataSubject><IdentityNumber scheme="dk">010203-4567</IdentityNumber><Name>N</Name></DataSubject>
</CaseReferral>"""


def delivery_of(document: bytes, message_type: str = "case.referral") -> OutboundDelivery:
    return OutboundDelivery(
        delivery_id="dlv-000001",
        message_id="msg-000001",
        message_type=message_type,
        version="1",
        district="sdn-sodermalm",
        purpose="referral",
        sender="aldre-direkt",
        destination="case-sdn-sodermalm",
        attempt=1,
        document=document,
        created_at=ARRIVED,
    )


def event_body(
    *,
    event_id: str = "EV-1",
    decision_id: str = "B-SOD-001-1",
    subject: str = "19121212-1212",
    scheme: str = "se",
    law: str = "SoL",
    kind: str = "executed",
    event_date: str = "2024-03-01",
    decision_date: str = "2024-01-15",
    note: str | None = None,
) -> bytes:
    root = etree.Element(
        f"{{{EVENT_NS}}}ExecutionEvent", nsmap=cast("dict[str, str]", {None: EVENT_NS})
    )
    fields: list[tuple[str, str | None]] = [("EventId", event_id), ("DecisionId", decision_id)]
    for name, text in fields:
        etree.SubElement(root, f"{{{EVENT_NS}}}{name}").text = text
    etree.SubElement(root, f"{{{EVENT_NS}}}Subject", scheme=scheme).text = subject
    fields = [("Law", law), ("EventKind", kind), ("EventDate", event_date)]
    fields += [("DecisionDate", decision_date), ("Note", note)]
    for name, text in fields:
        if text is not None:
            etree.SubElement(root, f"{{{EVENT_NS}}}{name}").text = text
    return etree.tostring(root, encoding="UTF-8")


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


# -- SOAP answers -> lookup results --------------------------------------------------------------


def test_a_client_summary_becomes_plain_json_able_data() -> None:
    answer = {
        "subjectId": {"id": "191212121212", "type": OID_PERSONNUMMER},
        "name": "Tolvan Tolvansson",
        "decision": [
            {
                "decisionId": "B-1",
                "law": "SoL",
                "service": {"code": "home_care", "displayName": "Hemtjänst"},
                "intervention": [{"code": "cleaning", "displayName": None}],
                "decisionDate": date(2024, 1, 15),
                "validFrom": date(2024, 2, 1),
                "validTo": None,
                "grantedHoursPerMonth": Decimal("32.5"),
                "executionState": "pending",
            }
        ],
        "feeBasis": {
            "incomePerMonth": Decimal("18450.5"),
            "currency": "SEK",
            "periodStart": date(2024, 1, 1),
            "periodEnd": None,
        },
        "provider": {"providerId": "prov-testvard", "name": "Testvård Hemtjänst AB"},
        "caseOfficer": {"officerId": None, "name": "Handla Läggarsson"},
    }
    assert client_summary_result(answer) == {
        "found": True,
        "name": "Tolvan Tolvansson",
        "decisions": [
            {
                "decision_id": "B-1",
                "law": "SoL",
                "service": {"code": "home_care", "display_name": "Hemtjänst"},
                "interventions": [{"code": "cleaning", "display_name": None}],
                "decision_date": "2024-01-15",
                "valid_from": "2024-02-01",
                "valid_to": None,
                "granted_hours_per_month": 32.5,
                "execution_state": "pending",
            }
        ],
        "fee_basis": {
            "income_per_month": "18450.50",
            "currency": "SEK",
            "period_start": "2024-01-01",
            "period_end": None,
        },
        "provider": {"id": "prov-testvard", "name": "Testvård Hemtjänst AB"},
        "case_officer": {"id": None, "name": "Handla Läggarsson"},
    }
    sparse = {"subjectId": answer["subjectId"], "name": "N", "decision": []}
    assert client_summary_result(sparse) == {
        "found": True,
        "name": "N",
        "decisions": [],
        "fee_basis": None,
        "provider": None,
        "case_officer": None,
    }


def test_no_client_is_an_answer_not_an_error() -> None:
    assert client_summary_result(None) == {"found": False}


# -- failures -> hub errors ----------------------------------------------------------------------


def fault_detail(error_code: str) -> etree._Element:
    detail = etree.Element("detail")
    info = etree.SubElement(detail, f"{{{CORE_NS}}}FaultInfo")
    etree.SubElement(info, f"{{{CORE_NS}}}errorCode").text = error_code
    return detail


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("soap:Client", "Client"),
        ("soap-env:Server", "Server"),
        ("Client.Authentication", "Client"),
        ("env:Receiver", "Receiver"),
        ("", None),
        (None, None),
    ],
)
def test_fault_codes(code: str | None, expected: str | None) -> None:
    assert fault_code(code) == expected


LEAKY = "unknown client 191212121212 Tolvan Tolvansson"


@pytest.mark.parametrize(
    ("raised", "error", "reason"),
    [
        (Fault(LEAKY, code="soap:Server"), TransientDeliveryError, "soap_server_fault"),
        (Fault(LEAKY, code="soap:Client"), PermanentDeliveryError, "soap_client_fault"),
        (Fault(LEAKY, code="s:Client.Validation"), PermanentDeliveryError, "soap_client_fault"),
        (Fault(LEAKY, code="soap:VersionMismatch"), PermanentDeliveryError, "soap_client_fault"),
        (Fault(LEAKY, code="soap:Receiver"), TransientDeliveryError, "soap_server_fault"),
        (Fault(LEAKY, code=None), TransientDeliveryError, "soap_server_fault"),
        (TransportError(LEAKY, status_code=503), TransientDeliveryError, "destination_unavailable"),
        (TransportError(LEAKY, status_code=502), TransientDeliveryError, "destination_unavailable"),
        (TransportError(LEAKY, status_code=429), TransientDeliveryError, "destination_unavailable"),
        (TransportError(LEAKY, status_code=401), PermanentDeliveryError, "destination_rejected"),
        (TransportError(LEAKY, status_code=404), PermanentDeliveryError, "destination_rejected"),
        (TransportError(LEAKY, status_code=200), PermanentDeliveryError, "destination_rejected"),
        (DTDForbidden(LEAKY, None, None), PermanentDeliveryError, "hostile_response"),
        (EntitiesForbidden(LEAKY, LEAKY), PermanentDeliveryError, "hostile_response"),
        (
            ValidationError(LEAKY, path=["caseReferral", "caseId"]),
            PermanentDeliveryError,
            "request_invalid",
        ),
        (XMLParseError(LEAKY), PermanentDeliveryError, "response_invalid"),
        (requests.ConnectTimeout(LEAKY), TransientDeliveryError, "destination_unavailable"),
        (requests.ReadTimeout(LEAKY), TransientDeliveryError, "destination_unavailable"),
        (requests.ConnectionError(LEAKY), TransientDeliveryError, "destination_unavailable"),
        (
            requests.exceptions.ChunkedEncodingError(LEAKY),
            TransientDeliveryError,
            "destination_unavailable",
        ),
        (requests.exceptions.SSLError(LEAKY), PermanentDeliveryError, "destination_rejected"),
        (requests.TooManyRedirects(LEAKY), PermanentDeliveryError, "destination_rejected"),
    ],
)
def test_failure_mapping(raised: Exception, error: type[DeliveryError], reason: str) -> None:
    def call() -> None:
        raise raised

    with pytest.raises(DeliveryError) as caught:
        map_soap_outcome("case-sdn-sodermalm", "ReferCase", call, TRANSIENCE, DIALECT)
    assert type(caught.value) is error
    assert caught.value.reason == reason
    assert caught.value.__cause__ is raised
    text = " ".join(
        [str(caught.value), repr(caught.value), *map(str, caught.value.context.values())]
    )
    assert "1912121212" not in text
    assert "Tolvan" not in text
    assert "ReferCase" in str(caught.value)


def test_a_fault_names_the_contracts_error_code_but_never_a_value() -> None:
    def fault(detail: etree._Element) -> None:
        raise Fault(LEAKY, code="soap:Client", detail=detail)

    with pytest.raises(PermanentDeliveryError) as caught:
        map_soap_outcome(
            "case",
            "ReferCase",
            lambda: fault(fault_detail("unknown_decision")),
            TRANSIENCE,
            DIALECT,
        )
    assert "unknown_decision" in str(caught.value)
    assert caught.value.context["error_code"] == "unknown_decision"

    for sneaky in ("191212121212", "Tolvan Tolvansson", "x" * 65, "bad code"):
        detail = fault_detail(sneaky)
        with pytest.raises(PermanentDeliveryError) as caught:
            map_soap_outcome(
                "case",
                "ReferCase",
                lambda: fault(detail),  # noqa: B023
                TRANSIENCE,
                DIALECT,
            )
        assert caught.value.context["error_code"] == ""
        assert sneaky not in str(caught.value)


def test_a_successful_call_passes_its_answer_through() -> None:
    assert map_soap_outcome("case", "ReferCase", lambda: 42, TRANSIENCE, DIALECT) == 42


# -- options -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://h/x", "endpoint": "x"}, "unknown option 'endpoint'"),
        ({}, "option 'url' is required with the packaged WSDL"),
        ({"url": "ftp://h/x"}, "option 'url' must be an absolute http"),
        ({"url": "/relative"}, "option 'url' must be an absolute http"),
        ({"wsdl": "gopher://h/x.wsdl"}, "option 'wsdl' must be a path or an http"),
        ({"wsdl": " "}, "option 'wsdl' must be a path"),
        ({"url": "http://h/x", "timeout": 0}, "option 'timeout' must be a positive"),
        ({"url": "http://h/x", "timeout": float("nan")}, "option 'timeout' must be a positive"),
        ({"url": "http://h/x", "timeout": "10"}, "option 'timeout' must be of type float"),
        ({"url": "http://h/x", "retries": 5}, "option 'retries' must be between 0 and 4"),
        ({"url": "http://h/x", "retries": True}, "option 'retries' must be of type int"),
        ({"url": "http://h/x", "token": "a b"}, "option 'token' must be non-empty"),
        ({"url": "http://h/x", "username": "u"}, "option 'password' needs its pair"),
        (
            {"url": "http://h/x", "token": "t", "username": "u", "password": "p"},
            "option 'token' and username/password exclude each other",
        ),
    ],
)
def test_options_are_strict(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CaseManagementAdapter("case", options)


def test_repr_hides_secrets() -> None:
    bearer = CaseManagementAdapter("case", {"url": "http://h/x", "token": "s3cret-token"})
    basic = CaseManagementAdapter(
        "case", {"wsdl": "http://h/x?wsdl", "username": "hub", "password": "s3cret-pw"}
    )
    assert "s3cret" not in repr(bearer) + repr(basic)
    assert "token=***" in repr(bearer)
    assert "basic=***" in repr(basic)
    assert bearer.kind == "case-soap"
    assert (bearer.timeout, bearer.retries, bearer.url) == (10.0, 2, "http://h/x")

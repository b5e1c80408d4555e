"""The case-management SOAP adapter against its real local double, over real sockets.

zeep on the client side, the double's WSGI app on the server side, the hub's SOAP contract
(``schemas/wsdl/case-management-1.wsdl``) in between, on 127.0.0.1.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import urllib3.util.connection
import zeep
from lxml import etree
from zeep.exceptions import DTDForbidden

import adapters
from adapters.case_management.adapter import PACKAGED_WSDL, CaseManagementAdapter
from adapters.case_management.mapping import referral_request
from adapters.doubles.case_management_double import SERVICE_PATH, CaseManagementDouble
from adapters.doubles.case_management_seed import SeededClient, SeededDecision, person_id_of
from adapters.doubles.case_management_soap import execution_event_document
from hub.demo.fictional import FictionalPeople, FictionalPerson, build_envelope, referral_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import demo_agreements
from hub.envelope import LookupRequest, OutboundDelivery
from hub.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from hub.ingest.identity import parse_identity
from hub.ports import Adapter, LookupAdapter
from hub.services.agreements import add_agreements, register_system
from tests.adapter_contract import (
    FICTIONAL_NAME,
    FICTIONAL_PERSONNUMMER,
    AdapterBuilder,
    AdapterContract,
    DeliveryFactory,
    Failure,
    SetFailure,
    StoredDocuments,
    deliver_concurrently,
    double_process,
    make_delivery,
    network_forbidden,
    unreachable_url,
)
from tests.integration.spine import Clock, InlineDispatcher

DISTRICT = "sdn-sodermalm"
EVENT_NS = "urn:omsorgshub:case.execution_event:1"
TOLVAN = FictionalPerson("Tolvan", "Tolvansson", parse_identity(FICTIONAL_PERSONNUMMER))


def referral_delivery(
    delivery_id: str | None = None, *, attempt: int = 1, document: bytes = b""
) -> OutboundDelivery:
    """The contract's deliveries for a typed adapter (its ``contract_delivery``).

    The contract's generic documents are no case referrals, and this adapter maps documents
    field by field, so each contract delivery carries a fictional ``case.referral`` about
    Tolvan Tolvansson (the name and number the contract checks errors for) instead, derived
    from the delivery id: the same id gives the same document, as a redelivery must.
    """
    base = make_delivery(delivery_id, attempt=attempt)
    body = referral_body(TOLVAN, DISTRICT, random.Random(base.delivery_id))
    return replace(
        base,
        message_type="case.referral",
        version="1",
        district=DISTRICT,
        purpose="referral",
        sender="aldre-direkt",
        document=body,
    )


def event_delivery(client: SeededClient, decision: SeededDecision, kind: str) -> OutboundDelivery:
    root = etree.Element(
        f"{{{EVENT_NS}}}ExecutionEvent", nsmap=cast("dict[str, str]", {None: EVENT_NS})
    )
    base = make_delivery()
    texts = [("EventId", f"EV-{base.delivery_id}"), ("DecisionId", decision.decision_id)]
    for name, text in texts:
        etree.SubElement(root, f"{{{EVENT_NS}}}{name}").text = text
    subject = etree.SubElement(root, f"{{{EVENT_NS}}}Subject", scheme=client.identity.scheme)
    subject.text = client.identity.formatted()
    texts = [("Law", decision.law), ("EventKind", kind), ("EventDate", "2024-04-02")]
    texts += [("DecisionDate", decision.decision_date.isoformat()), ("Note", "Fiktiv händelse.")]
    for name, text in texts:
        etree.SubElement(root, f"{{{EVENT_NS}}}{name}").text = text
    return replace(
        base,
        message_type="case.execution_event",
        version="1",
        district=client.district,
        purpose="ivo_reporting",
        sender="phoniro-care",
        document=etree.tostring(root, encoding="UTF-8"),
    )


@pytest.fixture(scope="module")
def running_double() -> Iterator[CaseManagementDouble]:
    with CaseManagementDouble() as double:
        yield double


@pytest.fixture
def double(running_double: CaseManagementDouble) -> CaseManagementDouble:
    running_double.reset()
    return running_double


@pytest.fixture
def case_adapter(double: CaseManagementDouble) -> Iterator[CaseManagementAdapter]:
    adapter = CaseManagementAdapter("case-sdn-sodermalm", {"url": double.url, "timeout": 2})
    adapter.open()
    yield adapter
    adapter.close()


class TestCaseManagementAdapterContract(AdapterContract):
    @pytest.fixture
    def contract_delivery(self) -> DeliveryFactory:
        return referral_delivery

    @pytest.fixture
    def adapter(self, case_adapter: CaseManagementAdapter) -> CaseManagementAdapter:
        return case_adapter

    @pytest.fixture
    def stored_documents(self, double: CaseManagementDouble) -> StoredDocuments:
        return double.referral_documents

    @pytest.fixture
    def set_failure(self, double: CaseManagementDouble) -> SetFailure:
        modes: dict[Failure | None, str] = {"transient": "fault", "permanent": "reject", None: "up"}
        return lambda failure: double.set_mode(modes[failure])

    @pytest.fixture
    def unreachable_adapter(self) -> AdapterBuilder:
        url = unreachable_url(SERVICE_PATH)
        return lambda: CaseManagementAdapter("nowhere", {"url": url, "timeout": 1, "retries": 1})


def test_the_contract_really_sends_referrals_about_tolvan(double: CaseManagementDouble) -> None:
    # The contract's checks for personal data in errors are only meaningful if the requests
    # carried the person: check the substitution above did what it says.
    adapter = CaseManagementAdapter("case", {"url": double.url})
    adapter.open()
    try:
        delivery = referral_delivery()
        adapter.deliver(delivery)
    finally:
        adapter.close()
    stored = double.referrals()[delivery.delivery_id]
    assert FICTIONAL_PERSONNUMMER.encode() in stored.payload
    assert FICTIONAL_NAME.encode() in stored.payload
    assert (stored.logical_address, stored.source_system) == (DISTRICT, "aldre-direkt")


def test_is_both_an_adapter_and_a_lookup_adapter(case_adapter: CaseManagementAdapter) -> None:
    assert isinstance(case_adapter, Adapter)
    assert isinstance(case_adapter, LookupAdapter)


# -- GetClientSummary ----------------------------------------------------------------------------


def lookup_of(client: SeededClient, district: str | None = None) -> LookupRequest:
    return LookupRequest(
        lookup="client_summary",
        district=district or client.district,
        purpose="contact_centre_answer",
        request_id="req-1",
        subject=client.identity.canonical,
    )


def test_client_summary_of_a_seeded_client(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    client = double.seeded[0]
    data = case_adapter.lookup(lookup_of(client)).data
    assert data["found"] is True
    assert data["name"] == client.name
    assert data["decisions"] == [
        {
            "decision_id": d.decision_id,
            "law": d.law,
            "service": {"code": d.service[0], "display_name": d.service[1]},
            "interventions": [{"code": c, "display_name": n} for c, n in d.interventions],
            "decision_date": d.decision_date.isoformat(),
            "valid_from": d.valid_from.isoformat(),
            "valid_to": None if d.valid_to is None else d.valid_to.isoformat(),
            "granted_hours_per_month": None
            if d.granted_hours_per_month is None
            else float(d.granted_hours_per_month),
            "execution_state": d.execution_state,
        }
        for d in client.decisions
    ]
    assert data["fee_basis"] == {
        "income_per_month": f"{client.income_per_month:.2f}",
        "currency": client.currency,
        "period_start": client.fee_period[0].isoformat(),
        "period_end": None if client.fee_period[1] is None else client.fee_period[1].isoformat(),
    }
    assert data["provider"] == {"id": client.provider.id, "name": client.provider.name}
    assert data["case_officer"] == {"id": client.officer[0], "name": client.officer[1]}


def test_client_summaries_for_every_kind_of_identity_number(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    kinds: dict[str, SeededClient] = {}
    for client in double.seeded:
        kinds.setdefault(person_id_of(client.identity)[1], client)
    assert len(kinds) == 3  # personnummer, samordningsnummer and CPR are all seeded
    for client in kinds.values():
        data = case_adapter.lookup(lookup_of(client)).data
        assert (data["found"], data["name"]) == (True, client.name)
    assert double.stats()["operations"] == {"GetClientSummary": 3}


def test_an_unknown_client_is_a_clear_not_found(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    tolvan = replace(double.seeded[0], identity=TOLVAN.identity)
    assert case_adapter.lookup(lookup_of(tolvan)).data == {"found": False}


def test_a_district_sees_only_its_own_clients(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    client = next(c for c in double.seeded if c.district == "sdn-farsta")
    assert case_adapter.lookup(lookup_of(client)).data["found"] is True
    assert case_adapter.lookup(lookup_of(client, DISTRICT)).data == {"found": False}


def test_an_unknown_logical_address_is_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    with pytest.raises(PermanentDeliveryError, match="unknown_logical_address") as caught:
        case_adapter.lookup(lookup_of(double.seeded[0], "sdn-atlantis"))
    assert caught.value.reason == "soap_client_fault"
    with pytest.raises(PermanentDeliveryError, match="unknown_logical_address"):
        case_adapter.deliver(replace(referral_delivery(), district="sdn-atlantis"))
    assert double.referrals() == {}


def test_unknown_lookups_and_bad_subjects_are_permanent_without_a_request(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    request = lookup_of(double.seeded[0])
    with pytest.raises(PermanentDeliveryError) as caught:
        case_adapter.lookup(replace(request, lookup="invoice_status"))
    assert caught.value.reason == "unknown_lookup"
    with pytest.raises(PermanentDeliveryError) as caught:
        case_adapter.lookup(replace(request, subject="19121212-1212"))
    assert caught.value.reason == "invalid_subject"
    assert double.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("mode", "error", "reason"),
    [
        ("fault", TransientDeliveryError, "soap_server_fault"),
        ("reject", PermanentDeliveryError, "soap_client_fault"),
        ("down", TransientDeliveryError, "destination_unavailable"),
        ("unavailable", TransientDeliveryError, "destination_unavailable"),
        ("hostile", PermanentDeliveryError, "hostile_response"),
    ],
)
def test_lookup_failures_map_like_deliveries(
    double: CaseManagementDouble,
    case_adapter: CaseManagementAdapter,
    mode: str,
    error: type[Exception],
    reason: str,
) -> None:
    client = double.seeded[0]
    double.set_mode(mode)
    with pytest.raises(error) as caught:
        case_adapter.lookup(lookup_of(client))
    assert getattr(caught.value, "reason", None) == reason
    assert client.identity.canonical not in str(caught.value)
    assert client.name not in str(caught.value)


# -- failures on the wire ------------------------------------------------------------------------


def test_a_server_fault_is_transient_and_the_retry_goes_through_once(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    delivery = referral_delivery()
    double.set_mode("fault", times=1)
    with pytest.raises(TransientDeliveryError, match="SOAP Server fault") as caught:
        case_adapter.deliver(delivery)
    assert caught.value.context == {
        "operation": "ReferCase",
        "fault_code": "Server",
        "error_code": "unavailable",
    }
    assert case_adapter.deliver(replace(delivery, attempt=2)).duplicate is False
    assert list(double.referrals()) == [delivery.delivery_id]


def test_a_client_fault_is_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("reject")
    with pytest.raises(PermanentDeliveryError, match="SOAP Client fault") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.context["error_code"] == "rejected"
    assert "19121212" not in str(caught.value)
    assert double.referrals() == {}


def test_a_request_the_contracts_xsd_refuses_is_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    # zeep does not check facets; the service does: a sender name with a space breaks one.
    with pytest.raises(PermanentDeliveryError, match="validation_failed"):
        case_adapter.deliver(replace(referral_delivery(), sender="aldre direkt"))
    assert double.referrals() == {}


def test_slow_beyond_the_timeout_is_transient_and_the_redelivery_is_a_duplicate(
    double: CaseManagementDouble,
) -> None:
    adapter = CaseManagementAdapter("case", {"url": double.url, "timeout": 0.2})
    adapter.open()
    try:
        delivery = referral_delivery()
        double.set_mode("slow", delay=0.6, times=1)
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match="ReadTimeout"):
            adapter.deliver(delivery)
        assert time.monotonic() - started < 0.55  # it gave up at the timeout, not the answer
        assert double.stats()["requests"] == 1  # a read timeout is not retried inside the call
        deadline = time.monotonic() + 5
        while not double.referrals() and time.monotonic() < deadline:
            time.sleep(0.02)  # the slow service stores it after the client gave up
        receipt = adapter.deliver(replace(delivery, attempt=2))
    finally:
        adapter.close()
    assert receipt.duplicate is True
    assert double.referral_documents() == {delivery.delivery_id: delivery.document}


def test_down_is_transient_and_not_retried_once_the_request_was_sent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("down")
    with pytest.raises(TransientDeliveryError, match="no SOAP answer") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.context["error"] == "ConnectionError"
    assert double.stats()["requests"] == 1
    assert double.referrals() == {}


def test_http_503_without_a_soap_body_is_transient(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("unavailable")
    with pytest.raises(TransientDeliveryError, match="HTTP 503") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.context["status"] == 503


@pytest.mark.parametrize("retries", [0, 2])
def test_an_unreachable_service_is_transient_after_the_connection_retries(
    retries: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []
    connect = urllib3.util.connection.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(args[0])
        return connect(*args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    url = unreachable_url(SERVICE_PATH)
    adapter = CaseManagementAdapter("nowhere", {"url": url, "retries": retries})
    adapter.open()
    try:
        with pytest.raises(TransientDeliveryError, match="ConnectionError"):
            adapter.deliver(referral_delivery())
    finally:
        adapter.close()
    assert len(attempts) == retries + 1


def test_a_stopped_service_cuts_kept_alive_connections() -> None:
    with CaseManagementDouble() as double:
        adapter = CaseManagementAdapter("case", {"url": double.url, "retries": 0})
        adapter.open()
        adapter.deliver(referral_delivery())
    try:
        with pytest.raises(TransientDeliveryError):
            adapter.deliver(referral_delivery())
    finally:
        adapter.close()


# -- hostile answers -----------------------------------------------------------------------------


def test_an_answer_with_a_doctype_and_entities_is_refused(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    double.set_mode("hostile")
    with pytest.raises(PermanentDeliveryError, match="DOCTYPE") as caught:
        case_adapter.deliver(referral_delivery())
    assert caught.value.reason == "hostile_response"
    assert isinstance(caught.value.__cause__, DTDForbidden)  # forbid_dtd did it


def test_the_hostile_answer_gets_through_a_client_without_forbid_dtd(
    double: CaseManagementDouble,
) -> None:
    # Shows the test above can fail: zeep with forbid_dtd and forbid_entities off takes the
    # DOCTYPE'd answer as a receipt, the entities left unexpanded.
    double.set_mode("hostile")
    settings = zeep.Settings(strict=True, forbid_dtd=False, forbid_entities=False)
    lax = cast(Any, zeep).Client(double.wsdl_url, settings=settings)
    answer = lax.service.ReferCase(
        **referral_request(referral_delivery()), _soapheaders={"LogicalAddress": DISTRICT}
    )
    assert (answer.resultCode, answer.caseReference) == ("OK", None)
    assert double.referrals() == {}


_REFER_ACTION = '"urn:riv:omsorgshub:casemanagement:ReferCaseResponder:1:ReferCase"'
_ENVELOPE = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">{header}<s:Body>'
    '<r:ReferCase xmlns:r="urn:riv:omsorgshub:casemanagement:ReferCaseResponder:1">'
    "<r:idempotencyKey>k</r:idempotencyKey></r:ReferCase></s:Body></s:Envelope>"
)
_ADDRESS = (
    '<s:Header><a:LogicalAddress xmlns:a="urn:riv:itintegration:registry:1">sdn-sodermalm'
    "</a:LogicalAddress></s:Header>"
)


@pytest.mark.parametrize(
    ("body", "action", "error_code"),
    [
        ("not xml at all", _REFER_ACTION, "malformed_request"),
        (
            '<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
            + _ENVELOPE.format(header=_ADDRESS).replace(">k<", ">&x;<"),
            _REFER_ACTION,
            "malformed_request",
        ),
        ("<Envelope/>", _REFER_ACTION, "not_soap_11"),
        (_ENVELOPE.format(header=""), _REFER_ACTION, "missing_logical_address"),
        (_ENVELOPE.format(header=_ADDRESS), '"urn:other:Action"', "soap_action_mismatch"),
        (_ENVELOPE.format(header=_ADDRESS), _REFER_ACTION, "validation_failed"),
    ],
)
def test_the_double_refuses_bad_and_hostile_requests_with_client_faults(
    double: CaseManagementDouble, body: str, action: str, error_code: str
) -> None:
    answer = httpx.post(
        double.url,
        content=body.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": action},
    )
    assert answer.status_code == 500
    fault = etree.fromstring(answer.content)
    assert fault.findtext(".//faultcode") == "soap:Client"
    assert fault.findtext(".//{urn:riv:omsorgshub:casemanagement:1}errorCode") == error_code
    assert double.referrals() == {}
    assert double.stats()["faults"] == 1


# -- execution events ----------------------------------------------------------------------------


def test_execution_events_move_the_decisions_state_once_per_delivery(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    client = next(c for c in double.seeded if c.identity.scheme == "se")
    decision = client.decisions[0]
    states = []
    for kind in ("executed", "interrupted", "resumed", "closed"):
        delivery = event_delivery(client, decision, kind)
        receipt = case_adapter.deliver(delivery)
        assert receipt.duplicate is False
        assert receipt.details["operation"] == "ReportExecutionEvent"
        states.append(double.execution_state(client.district, decision.decision_id))
        stored = double.execution_events()[delivery.delivery_id]
        assert execution_event_document(stored.payload) == delivery.document
    assert states == ["executed", "interrupted", "executed", "closed"]


def test_a_repeated_execution_event_is_a_duplicate_and_changes_nothing(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    client = double.seeded[1]
    decision = client.decisions[0]
    closing = event_delivery(client, decision, "closed")
    first = case_adapter.deliver(closing)
    case_adapter.deliver(event_delivery(client, decision, "resumed"))
    repeat = case_adapter.deliver(replace(closing, attempt=2))
    assert (repeat.duplicate, repeat.reference) == (True, first.reference)
    assert double.execution_state(client.district, decision.decision_id) == "executed"
    assert double.stats()["duplicates"] == 1


def test_an_event_for_an_unknown_decision_is_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    client, other = double.seeded[0], double.seeded[1]
    foreign = event_delivery(client, other.decisions[0], "executed")  # not this client's
    with pytest.raises(PermanentDeliveryError, match="unknown_decision"):
        case_adapter.deliver(foreign)
    missing = replace(other.decisions[0], decision_id="B-NONE-1")
    with pytest.raises(PermanentDeliveryError, match="unknown_decision"):
        case_adapter.deliver(event_delivery(other, missing, "executed"))
    assert double.execution_events() == {}


def test_other_message_types_and_versions_are_permanent(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    for delivery in (
        replace(referral_delivery(), message_type="timereport.visit"),
        replace(referral_delivery(), version="2"),
    ):
        with pytest.raises(PermanentDeliveryError) as caught:
            case_adapter.deliver(delivery)
        assert caught.value.reason == "unsupported_message_type"
    assert double.stats()["requests"] == 0


# -- the WSDL: loaded in open(), never before ----------------------------------------------------


def test_the_wsdl_is_loaded_in_open_not_in_the_constructor(double: CaseManagementDouble) -> None:
    with network_forbidden():
        adapter = CaseManagementAdapter("case", {"wsdl": double.wsdl_url})
    assert double.stats()["wsdl_requests"] == 0
    adapter.open()
    try:
        assert double.stats()["wsdl_requests"] == 1
        adapter.open()  # opening twice loads nothing more
        assert double.stats()["wsdl_requests"] == 1
        # No url option: the address comes from the served WSDL.
        assert adapter.deliver(referral_delivery()).duplicate is False
    finally:
        adapter.close()


def test_a_wsdl_url_that_is_down_makes_open_transient() -> None:
    wsdl = unreachable_url(SERVICE_PATH) + "?wsdl"
    adapter = CaseManagementAdapter("case", {"wsdl": wsdl, "retries": 0})
    with pytest.raises(TransientDeliveryError) as caught:
        adapter.open()
    assert caught.value.reason == "wsdl_unavailable"
    with pytest.raises(TransientDeliveryError, match="not open"):
        adapter.deliver(referral_delivery())


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "wsdl_unreadable"),  # no such file
        (b"<definitions", "wsdl_invalid"),
        (b'<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>', "wsdl_invalid"),
        (b"<definitions xmlns='http://schemas.xmlsoap.org/wsdl/'/>", "wsdl_mismatch"),
        ("GetClientSummary", "wsdl_mismatch"),  # the contract with this operation taken out
    ],
)
def test_an_unusable_wsdl_file_is_a_config_error(
    tmp_path: Path, content: bytes | str | None, reason: str
) -> None:
    (tmp_path / "wsdl").mkdir()
    (tmp_path / "xsd").mkdir()
    (tmp_path / "xsd" / "casemgmt-1.xsd").write_bytes(
        (PACKAGED_WSDL.parents[1] / "xsd" / "casemgmt-1.xsd").read_bytes()
    )
    path = tmp_path / "wsdl" / "case-management-1.wsdl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        tree = etree.parse(str(PACKAGED_WSDL))
        for operation in tree.iter("{http://schemas.xmlsoap.org/wsdl/}operation"):
            parent = operation.getparent()
            if operation.get("name") == content and parent is not None:
                parent.remove(operation)
        tree.write(str(path))
    adapter = CaseManagementAdapter("case", {"wsdl": str(path), "url": "http://127.0.0.1:9/x"})
    with pytest.raises(ConfigError) as caught:
        adapter.open()
    assert caught.value.reason == reason


# -- authentication ------------------------------------------------------------------------------


def test_bearer_token() -> None:
    with CaseManagementDouble(token="right-token") as double:
        good = CaseManagementAdapter("case", {"url": double.url, "token": "right-token"})
        bad = CaseManagementAdapter("case", {"url": double.url, "token": "wrong-token"})
        basic = CaseManagementAdapter(
            "case", {"url": double.url, "username": "hub", "password": "right-token"}
        )
        for adapter in (good, bad, basic):
            adapter.open()
        try:
            assert good.deliver(referral_delivery()).duplicate is False
            for refused in (bad, basic):
                with pytest.raises(PermanentDeliveryError, match="HTTP 401") as caught:
                    refused.deliver(referral_delivery())
                assert "right-token" not in str(caught.value) + repr(refused)
        finally:
            for adapter in (good, bad, basic):
                adapter.close()
        assert len(double.referrals()) == 1


# -- through the whole hub -----------------------------------------------------------------------


def test_the_hub_delivers_referrals_through_the_adapter(
    double: CaseManagementDouble, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Until the registry names "case-soap" (adapters/__init__.py), the test registers it.
    monkeypatch.setitem(
        adapters.ADAPTERS, "case-soap", "adapters.case_management.adapter:CaseManagementAdapter"
    )
    clock, dispatcher = Clock(), InlineDispatcher()
    sandbox = Sandbox(tmp_path / "hub")
    sandbox.write_routes(
        {"case-sodermalm": DestinationSpec("case-soap", {"url": double.url, "timeout": 2})},
        [("case.referral", DISTRICT, ["case-sodermalm"])],
    )
    hub = sandbox.open(dispatcher=dispatcher, clock=clock)
    try:
        dispatcher.execute = hub.executor.execute
        register_system(hub, "aldre-direkt", "contact centre (test)", "test")
        add_agreements(hub, [a for a in demo_agreements(clock()) if a.district == DISTRICT], "test")
        rng, sent = random.Random(3), []
        for n, person in enumerate(FictionalPeople(9).take(12)):
            body = referral_body(person, DISTRICT, rng)
            envelope = build_envelope(
                message_type="case.referral",
                version="1",
                district=DISTRICT,
                purpose="referral",
                body=body,
                message_id=f"m-{n}",
                subjects=((person.identity.scheme, person.identity.formatted()),),
            )
            hub.ingestor.ingest("aldre-direkt", envelope)
            sent.append(body)
        hub.relay.run_once()
    finally:
        hub.close()
    assert sorted(double.referral_documents().values()) == sorted(sent)
    assert {r.source_system for r in double.referrals().values()} == {"aldre-direkt"}


# -- connections, threads, and the double as its own process -------------------------------------


def test_sequential_deliveries_reuse_one_keep_alive_connection(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    for _ in range(50):
        case_adapter.deliver(referral_delivery())
    assert double.stats()["referrals"] == 50
    assert double.stats()["connections"] == 1


def test_concurrent_deliveries_from_several_threads(
    double: CaseManagementDouble, case_adapter: CaseManagementAdapter
) -> None:
    deliveries = [referral_delivery() for _ in range(60)]
    # Threads n and n + 3 deliver the same third of the ids, in opposite orders.
    shares = [deliveries[n::3] for n in range(3)]
    receipts = deliver_concurrently(case_adapter, [*shares, *(s[::-1] for s in shares)])

    stats = double.stats()
    assert (stats["referrals"], stats["duplicates"], stats["requests"]) == (60, 60, 120)
    assert sum(not r.duplicate for r in receipts) == 60
    assert double.referral_documents() == {d.delivery_id: d.document for d in deliveries}


def test_double_runs_as_its_own_process_and_is_controlled_over_http() -> None:
    with double_process("case_management_double", "/case-management/1") as (url, base):
        adapter = CaseManagementAdapter("external", {"wsdl": url + "?wsdl", "retries": 0})
        adapter.open()
        try:
            assert adapter.deliver(referral_delivery()).duplicate is False
            control = httpx.post(f"{base}/_control", json={"mode": "reject"})
            assert control.status_code == 200
            with pytest.raises(PermanentDeliveryError, match="rejected"):
                adapter.deliver(referral_delivery())
            bad = httpx.post(f"{base}/_control", json={"mode": "sideways"})
            assert bad.status_code == 400
            stats = httpx.get(f"{base}/_stats").json()
        finally:
            adapter.close()
        assert (stats["mode"], stats["requests"], stats["referrals"]) == ("reject", 2, 1)
        assert stats["wsdl_requests"] == 1


def test_no_personal_data_is_logged_even_at_debug(
    case_adapter: CaseManagementAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    delivery = referral_delivery()
    assert TOLVAN.family_name.encode() in delivery.document  # worth looking for
    case_adapter.deliver(delivery)
    assert caplog.records  # DEBUG logging really was on (urllib3 logs the connection)
    assert TOLVAN.family_name not in caplog.text
    assert TOLVAN.identity.canonical[:8] not in caplog.text

"""The case-management adapter against its local double, over real sockets on 127.0.0.1:
lookups, execution events, authentication, the whole hub, connections and threads."""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

import adapters
from adapters.case_management.adapter import CaseManagementAdapter
from adapters.doubles.case_management_double import SERVICE_PATH, CaseManagementDouble
from adapters.doubles.case_management_seed import SeededClient, person_id_of
from adapters.doubles.case_management_soap import execution_event_document
from hub.demo.fictional import FictionalPeople, build_envelope, referral_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import demo_agreements
from hub.envelope import LookupRequest
from hub.errors import PermanentDeliveryError, TransientDeliveryError
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
    opened,
    unreachable_url,
)
from tests.integration.case_management.conftest import (
    DISTRICT,
    TOLVAN,
    event_delivery,
    referral_delivery,
)
from tests.integration.spine import Clock, InlineDispatcher

# -- the shared contract ------------------------------------------------------------------------


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
    delivery = referral_delivery()
    with opened(CaseManagementAdapter("case", {"url": double.url})) as adapter:
        adapter.deliver(delivery)
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
        with opened(adapter):
            assert adapter.deliver(referral_delivery()).duplicate is False
            control = httpx.post(f"{base}/_control", json={"mode": "reject"})
            assert control.status_code == 200
            with pytest.raises(PermanentDeliveryError, match="rejected"):
                adapter.deliver(referral_delivery())
            bad = httpx.post(f"{base}/_control", json={"mode": "sideways"})
            assert bad.status_code == 400
            stats = httpx.get(f"{base}/_stats").json()
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

"""``case.execution_event`` v2 to the case-management contract's ``ReportExecutionEvent``: the
kinds the contract has map field by field (valid against its XSDs, v1's fields lossless), the
kinds it lacks are a permanent error naming the kind, before any request."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest
from lxml import etree

from adapters.case_management.adapter import CaseManagementAdapter
from adapters.case_management.mapping import OID_PERSONNUMMER, execution_event_request
from adapters.doubles.case_management_soap import RESPONDER_NS, ServiceContract
from hub.errors import PermanentDeliveryError
from schemas.parser import parse_xml
from schemas.registry import default_registry
from tests.unit.case_management_mapping_support import delivery_of
from tests.unit.test_case_management_mapping import (  # noqa: F401  (pytest fixtures)
    contract,
    offline_client,
    soap_payload,
)

V2 = "urn:omsorgshub:case.execution_event:2"


def v2_body(kind: str, *, note: str | None = "Fiktiv händelse.") -> bytes:
    """A v2 event with every element v2 adds (those the contract has no place for too)."""
    root = etree.Element(f"{{{V2}}}ExecutionEvent", nsmap=cast("dict[str, str]", {None: V2}))

    def add(name: str, text: str, parent: etree._Element = root) -> etree._Element:
        element = etree.SubElement(parent, f"{{{V2}}}{name}")
        element.text = text
        return element

    add("EventId", "EV-2-1")
    add("DecisionId", "B-SOD-001-1")
    add("Subject", "19121212-1212").set("scheme", "se")
    add("Law", "SoL")
    add("Intervention", "sol_home_care")
    add("EventKind", kind)
    add("EventDate", "2026-03-02")
    add("DecisionDate", "2025-11-30")
    add("Gender", "male")
    add("ProtectedIdentity", "false")
    if kind == "partly_executed":
        add("PartNotExecuted", "Städning")
    if kind == "declined_offer":
        offer = add("Offer", "")
        offer.text = None
        add("OfferDate", "2026-02-01", offer)
        add("Offered", "Plats på Fiktiva gården", offer)
    add("DelayReason", "Ingen ledig plats.")
    if kind == "closed":
        add("ClosingReason", "Den enskilde avböjde.")
    if note is not None:
        add("Note", note)
    return etree.tostring(root, encoding="UTF-8")


def v2_delivery(kind: str, **kwargs: Any) -> Any:
    body = v2_body(kind, **kwargs)
    registry = default_registry()
    registry.validate(registry.get("case.execution_event", "2"), parse_xml(body))  # a real v2
    return replace(delivery_of(body, "case.execution_event"), version="2")


@pytest.mark.parametrize("kind", ["executed", "interrupted", "resumed", "closed"])
def test_v2_events_of_the_contracts_kinds_map_to_valid_requests(
    kind: str,
    offline_client: Any,  # noqa: F811
    contract: ServiceContract,  # noqa: F811
) -> None:
    arguments = execution_event_request(v2_delivery(kind))
    assert arguments["executionEvent"] == {
        "eventId": "EV-2-1",
        "decisionId": "B-SOD-001-1",
        "subjectId": {"id": "191212121212", "type": OID_PERSONNUMMER},
        "law": "SoL",
        "eventKind": kind,
        "eventDate": "2026-03-02",
        "decisionDate": "2025-11-30",
        "note": "Fiktiv händelse.",
    }
    payload, address = soap_payload(offline_client, "ReportExecutionEvent", arguments)
    contract.validate("ReportExecutionEvent", payload, address)
    sent = etree.tostring(payload)
    assert b"sol_home_care" not in sent
    assert b"Ingen ledig plats" not in sent
    assert payload.find(f"{{{RESPONDER_NS['ReportExecutionEvent']}}}executionEvent") is not None


def test_a_v2_event_without_a_note_sends_none() -> None:
    arguments = execution_event_request(v2_delivery("executed", note=None))
    assert cast("dict[str, object]", arguments["executionEvent"])["note"] is None


@pytest.mark.parametrize("kind", ["decided", "partly_executed", "declined_offer"])
def test_v2_kinds_the_contract_lacks_are_permanent_and_named(kind: str) -> None:
    delivery = v2_delivery(kind)
    with pytest.raises(PermanentDeliveryError) as caught:
        execution_event_request(delivery)
    assert caught.value.reason == "unsupported_event_kind"
    assert repr(kind) in caught.value.detail
    assert "19121212" not in caught.value.detail
    # the adapter refuses it the same way before any request (it is not even open)
    adapter = CaseManagementAdapter("case-x", {"url": "http://127.0.0.1:9/case-management/1"})
    adapter._service = object()  # opened without a network: the mapping fails first
    with pytest.raises(PermanentDeliveryError) as through:
        adapter.deliver(delivery)
    assert through.value.reason == "unsupported_event_kind"


def test_a_v1_namespace_under_version_2_is_not_mapped() -> None:
    v1_as_v2 = v2_delivery("executed")
    wrong = replace(v1_as_v2, version="3")
    with pytest.raises(PermanentDeliveryError):
        execution_event_request(wrong)
    mislabelled = replace(v1_as_v2, version="1")  # a v2 document labelled v1
    with pytest.raises(PermanentDeliveryError) as caught:
        execution_event_request(mislabelled)
    assert caught.value.reason == "document_invalid"

"""``case.execution_event`` v2 delivered by the case-soap adapter to the case-management double
running as its own process: the contract's kinds move the decision's state there, the kinds it
lacks are dead at once with a reason naming the kind, and no request is made for them."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

import httpx
import pytest
from lxml import etree

from adapters.case_management.adapter import CaseManagementAdapter
from adapters.doubles.case_management_seed import SeededClient, SeededDecision, seed_clients
from hub.envelope import OutboundDelivery
from hub.errors import PermanentDeliveryError
from tests.adapter_contract import double_process, make_delivery, opened

V2 = "urn:omsorgshub:case.execution_event:2"


def v2_delivery(
    client: SeededClient, decision: SeededDecision, kind: str, n: int
) -> OutboundDelivery:
    root = etree.Element(f"{{{V2}}}ExecutionEvent", nsmap=cast("dict[str, str]", {None: V2}))
    for name, text in (
        ("EventId", f"EV-V2-{n}"),
        ("DecisionId", decision.decision_id),
        ("Subject", client.identity.formatted()),
        ("Law", decision.law),
        ("Intervention", "sol_home_care" if decision.law == "SoL" else "lss_escort"),
        ("EventKind", kind),
        ("EventDate", "2024-04-02"),
        ("DecisionDate", decision.decision_date.isoformat()),
        ("Gender", "female"),
        ("ClosingReason", "Den enskilde avslutade insatsen (fiktivt)."),
    ):
        etree.SubElement(root, f"{{{V2}}}{name}").text = text
    root[2].set("scheme", client.identity.scheme)
    return replace(
        make_delivery(f"dlv-v2-{n:04d}"),
        message_type="case.execution_event",
        version="2",
        district=client.district,
        purpose="ivo_reporting",
        sender="lifecare",
        document=etree.tostring(root, encoding="UTF-8"),
    )


def test_v2_events_reach_the_case_system_as_its_own_process() -> None:
    client = seed_clients(0)[0]
    decision = client.decisions[0]
    with double_process("case_management_double", "/case-management/1") as (url, base):
        adapter = CaseManagementAdapter("case-soap", {"url": url, "retries": 0})
        with opened(adapter):
            for n, kind in enumerate(("executed", "interrupted", "resumed", "closed")):
                receipt = adapter.deliver(v2_delivery(client, decision, kind, n))
                assert receipt.duplicate is False
                assert receipt.details["operation"] == "ReportExecutionEvent"
            repeat = adapter.deliver(v2_delivery(client, decision, "closed", 3))
            assert repeat.duplicate is True
            before = httpx.get(f"{base}/_stats").json()["requests"]
            for n, kind in enumerate(("decided", "partly_executed", "declined_offer"), start=10):
                with pytest.raises(PermanentDeliveryError) as caught:
                    adapter.deliver(v2_delivery(client, decision, kind, n))
                assert caught.value.reason == "unsupported_event_kind"
                assert f"'{kind}'" in caught.value.detail
            stats = httpx.get(f"{base}/_stats").json()
    assert stats["requests"] == before  # nothing was sent for the kinds the contract lacks
    assert stats["events"] == 4

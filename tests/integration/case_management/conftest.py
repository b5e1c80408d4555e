"""What the case-management adapter's integration tests share: the double (one per module,
reset per test), an adapter on it, and deliveries of the hub's case documents; for the
confidentiality check's tests, ``setup``: a whole hub on the double (``confidentiality``)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from lxml import etree

from adapters.case_management.adapter import CaseManagementAdapter
from adapters.doubles.case_management_double import CaseManagementDouble
from adapters.doubles.case_management_seed import SeededClient, SeededDecision
from hub.demo.fictional import FictionalPerson, referral_body
from hub.envelope import OutboundDelivery
from hub.ingest.identity import parse_identity
from tests.adapter_contract import (
    FICTIONAL_PERSONNUMMER,
    make_delivery,
    opened,
)
from tests.integration.case_management.confidentiality import Setup, opened_setup

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
def case_adapter(double: CaseManagementDouble) -> Iterator[CaseManagementAdapter]:
    adapter = CaseManagementAdapter("case-sdn-sodermalm", {"url": double.url, "timeout": 2})
    with opened(adapter):
        yield adapter


@pytest.fixture
def setup(tmp_path: Path, database_url: str) -> Iterator[Setup]:
    with opened_setup(tmp_path, database_url) as made:
        yield made

"""What the Combine tests share: approved fictional visits, deliveries of them, the double."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from lxml import etree

from adapters.combine.adapter import CombineAdapter
from adapters.combine.mapping import visit_import
from adapters.doubles.combine_double import CombineDouble
from hub.demo.fictional import PROVIDERS, FictionalPeople
from hub.demo.flows import visit_body
from hub.envelope import OutboundDelivery
from tests.adapter_contract import make_delivery, opened

PEOPLE = FictionalPeople(13, kind="personnummer").take(20)
ISSUED: dict[str, OutboundDelivery] = {}  # delivery id → the delivery as first made


def approved_visit(seed: str, *, status: str = "approved") -> bytes:
    """A ``timereport.visit`` v1 body derived from ``seed``, with the given approval."""
    rng = random.Random(seed)
    root = etree.fromstring(visit_body(PEOPLE[rng.randrange(len(PEOPLE))], PROVIDERS[0], rng))
    approval = root.find("{urn:omsorgshub:timereport.visit:1}Approval")
    assert approval is not None
    approval.set("status", status)
    if status == "approved":
        approval.set("approvedBy", "tl-101")
        approval.set("approvedAt", "2024-03-01T10:00:00+01:00")
    return etree.tostring(root, encoding="UTF-8")


def combine_delivery(
    delivery_id: str | None = None, *, attempt: int = 1, document: bytes = b""
) -> OutboundDelivery:
    """The contract's deliveries: an approved visit derived from the delivery id; a
    redelivery is the first delivery again with its attempt number (same message)."""
    if delivery_id is not None and delivery_id in ISSUED:
        return replace(ISSUED[delivery_id], attempt=attempt)
    base = make_delivery(delivery_id or str(uuid.uuid4()), attempt=attempt)
    delivery = replace(
        base,
        message_type="timereport.visit",
        version="1",
        purpose="time_reporting",
        sender="time-app",
        document=approved_visit(base.delivery_id),
    )
    ISSUED.setdefault(delivery.delivery_id, delivery)
    return delivery


def stored_by_delivery(double: CombineDouble) -> dict[str, bytes]:
    """What the double imported, by delivery id, as the hub document it came from: only where
    the import is exactly the mapping of that document (else the raw import, which fails)."""
    stored: dict[str, bytes] = {}
    for key, data in double.imports().items():
        sent = ISSUED[key]
        expected = visit_import(
            etree.fromstring(sent.document),
            delivery_id=key,
            message_id=sent.message_id,
            district=sent.district,
        )
        stored[key] = sent.document if data == expected else repr(data).encode()
    return stored


@pytest.fixture(scope="module")
def running_double() -> Iterator[CombineDouble]:
    with CombineDouble() as double:
        yield double


@pytest.fixture
def double(running_double: CombineDouble) -> CombineDouble:
    running_double.reset()
    return running_double


@pytest.fixture
def combine_adapter(double: CombineDouble) -> Iterator[CombineAdapter]:
    with opened(CombineAdapter("combine", {"base_url": double.base_url, "timeout": 2})) as a:
        yield a

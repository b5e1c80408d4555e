"""What the MedCom tests share: fictional CareCommunications, deliveries of them, the double."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from adapters.doubles.medcom_double import MedcomDouble
from adapters.medcom.adapter import MedcomAdapter, header_id_for
from hub.demo.fictional import FictionalPeople, FictionalPerson
from hub.demo.medcom_world import GP, HOME_CARE, care_communication
from hub.envelope import OutboundDelivery
from schemas.medcom.document import to_xml
from tests.adapter_contract import make_delivery, opened

DANES = FictionalPeople(11, kind="cpr").take(50)
ISSUED: dict[str, str] = {}  # MessageHeader.id → the delivery id it was derived from


def dane(index: int = 0) -> FictionalPerson:
    return DANES[index % len(DANES)]


def outbound_document(seed: str, person: FictionalPerson | None = None) -> bytes:
    """A care.communication from the municipality's home care to the GP, derived from ``seed``."""
    rng = random.Random(seed)
    who = person or DANES[rng.randrange(len(DANES))]
    return to_xml(care_communication(who, rng, sender=HOME_CARE, receiver=GP))


def medcom_delivery(
    delivery_id: str | None = None, *, attempt: int = 1, document: bytes = b""
) -> OutboundDelivery:
    """The contract's deliveries: a care.communication derived from the delivery id."""
    base = make_delivery(delivery_id or str(uuid.uuid4()), attempt=attempt)
    ISSUED[header_id_for(base.delivery_id)] = base.delivery_id
    return replace(
        base,
        message_type="care.communication",
        version="1",
        district="dk-fiktiv-kommune",
        purpose="care_communication",
        sender="fiktiv-omsorgssystem",
        document=outbound_document(base.delivery_id),
    )


def stored_by_delivery(double: MedcomDouble) -> dict[str, bytes]:
    """What the double processed, by the delivery id it came from, mapped back to the hub's
    document (without the MessageHeader.id the adapter gave it): the original bytes if the
    mapping both ways is faithful."""
    return {
        ISSUED[header]: to_xml(replace(read.document, header_id=None))
        for header, read in double.processed().items()
    }


def adapter_options(url: str, **more: object) -> dict[str, object]:
    return {
        "base_url": url,
        "sender_sor": HOME_CARE.sor,
        "sender_ean": HOME_CARE.ean,
        "timeout": 2,
        **more,
    }


@pytest.fixture(scope="module")
def running_double() -> Iterator[MedcomDouble]:
    with MedcomDouble() as double:
        yield double


@pytest.fixture
def double(running_double: MedcomDouble) -> MedcomDouble:
    running_double.reset()
    return running_double


@pytest.fixture
def medcom_adapter(double: MedcomDouble) -> Iterator[MedcomAdapter]:
    adapter = MedcomAdapter("medcom-gp", adapter_options(double.url))
    with opened(adapter):
        yield adapter

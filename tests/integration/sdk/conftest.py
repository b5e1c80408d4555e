"""What the SDK adapter's integration tests share: the double (one per module, reset per
test), adapter options on it, and referral deliveries about the contract's fictional person."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

import pytest

from adapters.doubles.sdk_double import CLIENT_ID, CLIENT_SECRET, SdkDouble
from adapters.sdk.adapter import SdkAdapter
from hub.demo.fictional import FictionalPerson, referral_body
from hub.envelope import OutboundDelivery
from hub.ingest.identity import parse_identity
from tests.adapter_contract import FICTIONAL_PERSONNUMMER, make_delivery, opened

DISTRICT = "sdn-sodermalm"
DISTRICT_ORG = "0203:2120009991"
DISTRICT_MAILBOX = "sdk:inkorg:0203:2120009991:sodermalm"
HUB_MAILBOX = "sdk:inkorg:0203:2120009991:aldre-direkt"
TOLVAN = FictionalPerson("Tolvan", "Tolvansson", parse_identity(FICTIONAL_PERSONNUMMER, "se"))


@pytest.fixture(scope="module")
def running_double() -> Iterator[SdkDouble]:
    with SdkDouble() as double:
        yield double


def sdk_options(api_url: str, token_url: str, **overrides: object) -> dict[str, object]:
    options: dict[str, object] = {
        "base_url": api_url,
        "token_url": token_url,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "sender": DISTRICT_ORG,
        "sender_functional_address": HUB_MAILBOX,
        "receipt_timeout_seconds": 30,
        "timeout": 2,
        "recipients": {
            DISTRICT: {"organization": DISTRICT_ORG, "functional_address": DISTRICT_MAILBOX}
        },
    }
    return {**options, **overrides}


def adapter_for(double: SdkDouble, **overrides: object) -> SdkAdapter:
    return SdkAdapter("sdk-test", sdk_options(double.url, double.token_url, **overrides))


@pytest.fixture
def sdk(double: SdkDouble) -> Iterator[SdkAdapter]:
    with opened(adapter_for(double)) as adapter:
        yield adapter


def referral(
    delivery_id: str | None = None, *, attempt: int = 1, document: bytes = b""
) -> OutboundDelivery:
    """A ``case.referral`` delivery about Tolvan, the same document for the same id."""
    base = make_delivery(delivery_id, attempt=attempt)
    body = referral_body(TOLVAN, DISTRICT, random.Random(base.delivery_id))
    return replace(
        base, message_type="case.referral", version="1", district=DISTRICT, document=body
    )

"""What the UBW adapter's integration tests share: the double (one per module, reset per
test), an adapter on it, deliveries and lookups, and a plain zeep client of the double."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import zeep

from adapters.doubles.ubw_double import UbwDouble
from adapters.finance_ubw.adapter import UbwFinanceAdapter
from hub.envelope import LookupRequest, OutboundDelivery
from hub.errors import DeliveryError
from tests.adapter_contract import (
    make_delivery,
    opened,
)
from tests.unit.ubw_mapping_support import deferral_document, payment_document

PASSWORD = "Lösen-UBW-fiktivt-7"
TOLVAN = "191212121212"
UNREACHABLE_PATH = "/BusinessWorld-webservices/service.svc"
SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)


@pytest.fixture(scope="module")
def running_double() -> Iterator[UbwDouble]:
    with UbwDouble(password=PASSWORD) as double:
        yield double


def adapter_for(double: UbwDouble, **overrides: object) -> UbwFinanceAdapter:
    options: dict[str, object] = {
        "url": double.url, "username": double.username, "client": double.client,
        "password": PASSWORD, "template_id": double.template_id, "timeout": 2,
    }  # fmt: skip
    return UbwFinanceAdapter("ubw", {**options, **overrides})


@pytest.fixture
def ubw(double: UbwDouble) -> Iterator[UbwFinanceAdapter]:
    with opened(adapter_for(double)) as adapter:
        yield adapter


def payment(delivery_id: str | None = None, **document: Any) -> OutboundDelivery:
    base = make_delivery(delivery_id)
    body = payment_document(voucher_id=f"LC-{base.message_id}", **document)
    return replace(base, message_type="finance.payment", version="1", document=body)


def deferral(delivery_id: str | None = None, **document: Any) -> OutboundDelivery:
    base = make_delivery(delivery_id)
    return replace(
        base, message_type="finance.deferral", version="1", document=deferral_document(**document)
    )


def invoice_status(adapter: UbwFinanceAdapter, subject: str | None = TOLVAN, **params: str) -> Any:
    request = LookupRequest("invoice_status", "sdn-sodermalm", "invoice_question", "req-1",
                            subject=subject, params=params)  # fmt: skip
    return adapter.lookup(request).data


def _text_of(error: DeliveryError) -> str:
    return " ".join([str(error), repr(error), *map(str, error.context.values())])


def _credentials(double: UbwDouble) -> dict[str, str]:
    return {"Username": double.username, "Client": double.client, "Password": PASSWORD}


def _bare_service(double: UbwDouble, service: str) -> Any:
    """A plain zeep client built from the WSDL the double serves (its address points there)."""
    client: Any = zeep.Client  # zeep's constructor has no type hints
    return client(double.wsdl_url(service), settings=SETTINGS).service

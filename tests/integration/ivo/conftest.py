"""What the IVO robot's integration tests share: the e-service double (one per module, reset
per test), an adapter on it, and deliveries of fictional individual reports."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pytest

from adapters.doubles.ivo_double import IvoDouble
from adapters.ivo.adapter import IvoAdapter
from hub.demo.fictional import FictionalPerson
from hub.demo.ivo_reports import ivo_report_body
from hub.envelope import OutboundDelivery
from hub.ingest.identity import parse_identity
from tests.adapter_contract import FICTIONAL_PERSONNUMMER, make_delivery, opened

PASSWORD = "fiktivt-lösen-IVO-3"  # the double's made-up password
PASSWORD_ENV = "OMSORGSHUB_TEST_IVO_PASSWORD"
TOLVAN = FictionalPerson("Tolvan", "Tolvansson", parse_identity(FICTIONAL_PERSONNUMMER))


@pytest.fixture(autouse=True)
def ivo_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """The robot reads its password from the environment, as in production."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


@pytest.fixture(scope="module")
def running_double() -> Iterator[IvoDouble]:
    with IvoDouble(password=PASSWORD) as double:
        yield double


def adapter_for(url: str, **overrides: object) -> IvoAdapter:
    options: dict[str, object] = {
        "url": url, "username": "robot", "password_env": PASSWORD_ENV, "timeout": 2,
    }  # fmt: skip
    return IvoAdapter("ivo-exempelstad", {**options, **overrides})


@pytest.fixture
def ivo(double: IvoDouble) -> Iterator[IvoAdapter]:
    with opened(adapter_for(double.url)) as adapter:
        yield adapter


def report_delivery(
    delivery_id: str | None = None,
    *,
    attempt: int = 1,
    person: FictionalPerson = TOLVAN,
    kind: str = "not_executed",
    missing: Sequence[str] = (),
    free_text: str | None = None,
) -> OutboundDelivery:
    """A delivery of a fictional report about ``person`` whose reference derives from the
    delivery id, so that the same id gives the same document, as a redelivery must."""
    base = make_delivery(delivery_id, attempt=attempt)
    body = ivo_report_body(
        person, random.Random(base.delivery_id), kind=kind, missing=missing,
        free_text=free_text, reference=f"OH-{base.delivery_id}",
    )  # fmt: skip
    return replace(base, message_type="ivo.individual_report", version="1", document=body)

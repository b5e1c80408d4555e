"""A ``soap:Client.Validation`` fault from UBW is permanent: the hub's delivery is dead after one
attempt, not retried.

Everything is the product: a hub on SQLite (relay run pass by pass), the registry's ``ubw``
adapter, and the UBW double on 127.0.0.1, which refuses a voucher posting to a closed account
(4599) with that fault. A dotted fault code once fell through to "transient" in the UBW adapter,
which only split the prefix off, so the delivery went on being retried.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.doubles.ubw_double import UbwDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, build_envelope
from hub.demo.flows import payment_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CASE_SYSTEM, FINANCE, flow_agreements
from hub.services.agreements import add_agreements, register_system
from hub.storage import deliveries as delivery_rows
from tests.integration.spine import Clock, InlineDispatcher

DISTRICT = "sdn-sodermalm"
PASSWORD = "fiktivt-losenord-2"
RETRY = {"base_seconds": 10.0, "cap_seconds": 60.0, "max_attempts": 4}
CLOSED_ACCOUNT = "4599"


@pytest.fixture
def ubw() -> Iterator[UbwDouble]:
    with UbwDouble(password=PASSWORD, closed_accounts={CLOSED_ACCOUNT}) as double:
        yield double


@pytest.fixture
def hub(tmp_path: Path, ubw: UbwDouble) -> Iterator[Hub]:
    clock, dispatcher = Clock(), InlineDispatcher()
    options = {"url": ubw.url, "username": ubw.username, "client": ubw.client,
               "password": PASSWORD, "timeout": 2, "retries": 2}  # fmt: skip
    sandbox = Sandbox(tmp_path / "hub")
    sandbox.write_routes(
        {FINANCE: DestinationSpec("ubw", options, RETRY)},
        [("finance.payment", DISTRICT, [FINANCE])],
    )
    opened = sandbox.open(dispatcher=dispatcher, clock=clock)
    try:
        dispatcher.execute = opened.executor.execute
        register_system(opened, CASE_SYSTEM, "case system (test)", "test")
        payments = [
            a
            for a in flow_agreements(clock())
            if a.district == DISTRICT and "finance.payment" in a.message_types
        ]
        add_agreements(opened, payments, "test")
        yield opened
    finally:
        opened.close()


def _send_payment(hub: Hub, message_id: str, account: str) -> str:
    person = FictionalPeople(5, kind="personnummer").take(1)[0]
    body = payment_body(person, random.Random(message_id))
    body = body.replace(b"<Account>4580</Account>", f"<Account>{account}</Account>".encode())
    assert f"<Account>{account}</Account>".encode() in body
    envelope = build_envelope(
        message_type="finance.payment",
        version="1",
        district=DISTRICT,
        purpose="assistance_payment",
        body=body,
        message_id=message_id,
        subjects=((person.identity.scheme, person.identity.formatted()),),
    )
    return hub.ingestor.ingest(CASE_SYSTEM, envelope).message_id


def _delivery(hub: Hub, message_id: str) -> delivery_rows.DeliveryRow:
    with hub.reader.connect() as conn:
        (row,) = delivery_rows.for_message(conn, message_id)
    return row


def test_a_client_validation_fault_is_dead_after_one_attempt(hub: Hub, ubw: UbwDouble) -> None:
    message_id = _send_payment(hub, "pay-closed-account", CLOSED_ACCOUNT)
    hub.relay.run_once()

    row = _delivery(hub, message_id)
    assert (row.state, row.attempts, row.last_reason) == ("dead", 1, "ubw_rejected")
    assert "Client fault" in (row.last_error or "")
    assert "closed for posting" in (row.last_error or "")
    stats = ubw.stats()
    assert (stats["requests"], stats["faults"], stats["vouchers"]) == (1, 1, 0)  # no retry
    assert hub.relay.run_once().claimed == 0  # nothing left to try


def test_the_same_payment_to_an_open_account_is_delivered(hub: Hub, ubw: UbwDouble) -> None:
    message_id = _send_payment(hub, "pay-open-account", "4580")
    hub.relay.run_once()

    row = _delivery(hub, message_id)
    assert (row.state, row.attempts) == ("delivered", 1)
    assert ubw.stats()["vouchers"] == 1

"""Scaled out: a Celery worker sends to the SDK service, the relay polls the receipt.

The relay publishes the claimed delivery to a real RabbitMQ; the task is taken off the queue and
run as a worker process would (``worker.deliver`` on this test's hub); the delivery then waits
``awaiting_receipt`` with no worker holding it, and the relay's next pass asks the service and
records ``delivered``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import kombu
import pytest
from celery import Celery

import worker
from adapters.doubles.sdk_double import SdkDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, demo_agreements
from hub.outbox.dispatch import CeleryDispatcher
from hub.services.agreements import add_agreements, register_system
from hub.storage import deliveries as delivery_rows
from tests.e2e.processes import Broker, broker_for_test
from tests.integration.sdk.conftest import DISTRICT, sdk_options

DESTINATION = "sdk-sodermalm"


@pytest.fixture
def broker(amqp_url: str) -> Iterator[Broker]:
    with broker_for_test(amqp_url, list(worker.app.conf.task_queues or ())) as scoped:
        yield scoped


@pytest.fixture
def sdk_double() -> Iterator[SdkDouble]:
    with SdkDouble() as running:
        yield running


@pytest.fixture
def celery_hub(
    tmp_path: Path, broker: Broker, sdk_double: SdkDouble
) -> Iterator[tuple[Hub, Celery]]:
    box = Sandbox(tmp_path / "hub", broker_url=broker.url)
    options = sdk_options(sdk_double.url, sdk_double.token_url)
    box.write_routes(
        {DESTINATION: DestinationSpec("sdk", options, {"base_seconds": 0.1})},
        [("case.referral", DISTRICT, [DESTINATION])],
    )
    app = worker.make_celery(box.settings())
    hub = box.open(dispatcher=CeleryDispatcher(app, worker.QUEUE))
    register_system(hub, CONTACT_CENTRE, "contact centre (test)", actor="test")
    agreements = [
        replace(a, recipients=frozenset({DESTINATION}))
        for a in demo_agreements(hub.clock())
        if a.district == DISTRICT and "case.referral" in a.message_types
    ]
    add_agreements(hub, agreements, actor="test")
    yield hub, app
    hub.close()


def test_a_worker_sends_and_the_relay_polls_the_receipt(
    celery_hub: tuple[Hub, Celery],
    broker: Broker,
    sdk_double: SdkDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub, app = celery_hub
    (person,) = FictionalPeople(seed=31).take(1)
    envelope = referral_envelope(person, DISTRICT, random.Random(3), message_id="CEL-1")
    ((delivery_id, _),) = hub.ingestor.ingest(CONTACT_CENTRE, envelope).deliveries
    assert hub.relay.run_once().claimed == 1
    queue = next(q for q in app.conf.task_queues or () if q.name == worker.QUEUE)
    with kombu.Connection(broker.url) as conn:
        message = queue(conn.default_channel).get(no_ack=False)
        assert message is not None
        monkeypatch.setattr(worker, "_hub", hub)
        assert worker.deliver(message.decode()[0][0]) == 1
        message.ack()
    with hub.reader.connect() as conn:
        row = delivery_rows.get(conn, delivery_id)
    assert row is not None
    assert row.state == "awaiting_receipt"

    time.sleep(0.2)  # the first poll is due base_seconds after sending
    deadline = time.monotonic() + 10
    while row.state == "awaiting_receipt" and time.monotonic() < deadline:
        hub.relay.run_once()
        with hub.reader.connect() as conn:
            row = delivery_rows.get(conn, delivery_id)
        assert row is not None
        time.sleep(0.1)
    assert row.state == "delivered"
    assert sdk_double.effects()[row.receipt_ref or ""] == ["received", "status:ACCEPTED"]

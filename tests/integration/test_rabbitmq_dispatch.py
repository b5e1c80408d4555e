"""``CeleryDispatcher`` and ``worker.py`` against a real RabbitMQ (no worker process).

What it proves:
- a claimed batch published by the relay through ``CeleryDispatcher`` lands in
  ``omsorgshub.deliver``, which the publish declares as a quorum queue (``make_celery``'s
  ``task_queues``); taken off the queue, it is executed by calling the task in this process and
  the deliveries reach the destination;
- publisher confirms are on: a publish RabbitMQ refuses raises (so the relay leaves the claims
  to the sweeper) instead of vanishing, as it does silently without confirms;
- ``declare_dead_letter`` makes the dead-letter exchange and queue, and the main queue's
  arguments send both a rejected batch and a batch redelivered past the delivery limit there.

Each test has a virtual host of its own (``rabbitmqctl``), or else the fixed queues are purged.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import kombu
import pytest
from amqp.exceptions import MessageNacked
from celery import Celery
from sqlalchemy import select

import worker
from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, FictionalPerson, referral_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, demo_agreements
from hub.outbox.dispatch import DELIVER_TASK, CeleryDispatcher
from hub.services.agreements import add_agreements, register_system
from hub.storage.tables import deliveries
from tests.e2e.processes import (
    Broker,
    broker_for_test,
    list_queues,
    queue_counts,
    rabbitmqctl,
    require_rabbitmqctl,
)

DISTRICT = "sdn-sodermalm"
DESTINATION = "case-sodermalm"


@pytest.fixture
def broker(amqp_url: str) -> Iterator[Broker]:
    queues = [*(worker.app.conf.task_queues or ()), _dead_letter_queue()]
    with broker_for_test(amqp_url, queues) as scoped:
        yield scoped


@pytest.fixture
def double() -> Iterator[HttpDouble]:
    with HttpDouble() as running:
        yield running


@pytest.fixture
def sandbox(tmp_path: Path, broker: Broker, double: HttpDouble) -> Sandbox:
    box = Sandbox(tmp_path / "hub", broker_url=broker.url)
    box.write_routes(
        {DESTINATION: DestinationSpec("http", {"url": double.url, "timeout": 5})},
        [("case.referral", DISTRICT, [DESTINATION])],
    )
    return box


@pytest.fixture
def app(sandbox: Sandbox) -> Celery:
    return worker.make_celery(sandbox.settings())


@pytest.fixture
def hub(sandbox: Sandbox, app: Celery) -> Iterator[Hub]:
    opened = sandbox.open(dispatcher=CeleryDispatcher(app, worker.QUEUE))
    register_system(opened, CONTACT_CENTRE, "contact centre (test)", actor="test")
    add_agreements(opened, demo_agreements(opened.clock()), actor="test")
    yield opened
    opened.close()


def _dead_letter_queue() -> kombu.Queue:
    return kombu.Queue(
        worker.DEAD_LETTER_QUEUE,
        kombu.Exchange(worker.DEAD_LETTER_EXCHANGE, type="fanout"),
        routing_key="",
        queue_arguments={"x-queue-type": "quorum"},
    )


def _deliver_queue(app: Celery) -> kombu.Queue:
    queue: kombu.Queue = next(q for q in app.conf.task_queues or () if q.name == worker.QUEUE)
    return queue


def _ingest(hub: Hub, people: list[FictionalPerson]) -> list[str]:
    rng = random.Random(5)
    ids: list[str] = []
    for i, person in enumerate(people):
        body = referral_envelope(person, DISTRICT, rng, message_id=f"RMQ-{i:04d}")
        ids += [d for d, _ in hub.ingestor.ingest(CONTACT_CENTRE, body).deliveries]
    return ids


def _states(hub: Hub, ids: list[str]) -> Counter[str]:
    with hub.reader.connect() as conn:
        rows = conn.execute(select(deliveries.c.state).where(deliveries.c.id.in_(ids)))
        return Counter(rows.scalars())


def _queue_type(url: str, queue: kombu.Queue) -> str:
    """The broker's own word: declaring the queue as classic fails, naming its current type."""
    arguments = {**(queue.queue_arguments or {}), "x-queue-type": "classic"}
    probe = kombu.Queue(queue.name, queue.exchange, queue.routing_key, queue_arguments=arguments)
    with kombu.Connection(url) as conn, pytest.raises(conn.channel_errors) as refused:
        probe(conn.default_channel).queue_declare()  # a classic queue would accept this
    found = re.search(r"'x-queue-type'.*current is '(\w+)'", str(refused.value))
    assert found, refused.value
    return found.group(1)


def _wait_for_count(url: str, name: str, expected: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while (ready := queue_counts(url, name)[0]) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return ready


def test_dispatched_batch_is_in_the_quorum_queue_and_the_task_delivers_it(
    hub: Hub,
    app: Celery,
    broker: Broker,
    double: HttpDouble,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = FictionalPeople(seed=21).take(2)
    ids = _ingest(hub, people)
    assert hub.relay.run_once().claimed == 2  # one batch of two, published with confirms
    assert _states(hub, ids) == Counter({"in_flight": 2})
    assert queue_counts(broker.url, worker.QUEUE) == (1, 0)
    assert _queue_type(broker.url, _deliver_queue(app)) == "quorum"

    with kombu.Connection(broker.url) as conn:
        message = _deliver_queue(app)(conn.default_channel).get(no_ack=False)
        assert message is not None
        assert message.headers["task"] == DELIVER_TASK
        claims = message.decode()[0][0]
        assert sorted(c[0] for c in claims) == sorted(ids)
        # What a worker process does with it: the task, run here on this test's hub.
        monkeypatch.setattr(worker, "_hub", hub)
        assert worker.deliver(claims) == 2
        message.ack()

    assert _states(hub, ids) == Counter({"delivered": 2})
    documents = double.documents()
    assert set(documents) == set(ids)
    delivered_text = b"".join(documents.values()).decode()
    assert all(p.family_name in delivered_text for p in people)  # decrypted at delivery
    assert queue_counts(broker.url, worker.QUEUE) == (0, 0)


def _publish(app: Celery, attempts: int) -> tuple[int, list[Exception]]:
    """Dispatch ``attempts`` batches; returns how many returned normally, and what was raised."""
    dispatcher = CeleryDispatcher(app, worker.QUEUE)
    returned = 0
    raised: list[Exception] = []
    for i in range(attempts):
        try:
            dispatcher.dispatch([(f"delivery-{i}", 1)])
        except Exception as exc:
            raised.append(exc)
        else:
            returned += 1
    return returned, raised


def _nacked(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, MessageNacked):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def test_publisher_confirms_make_a_refused_publish_raise(
    sandbox: Sandbox, app: Celery, broker: Broker
) -> None:
    require_rabbitmqctl("the refusing queue policy is set with rabbitmqctl")
    assert broker.vhost is not None  # rabbitmqctl works, so the test has a scratch vhost
    # A full queue refuses new messages (nack): the way RabbitMQ says "not taken".
    rabbitmqctl(
        "set_policy", "-p", broker.vhost, "--apply-to", "queues", "full",
        f"^{worker.QUEUE.replace('.', '[.]')}$", '{"max-length":1,"overflow":"reject-publish"}',
    )  # fmt: skip
    with kombu.Connection(broker.url) as conn:
        _deliver_queue(app)(conn.default_channel).declare()
    deadline = time.monotonic() + 10
    while list_queues(broker.vhost)[worker.QUEUE].policy != "full":
        assert time.monotonic() < deadline, "the policy was not applied within 10 s"
        time.sleep(0.1)

    returned, raised = _publish(app, 4)
    assert raised, "RabbitMQ refused publishes, yet every dispatch returned normally"
    assert all(_nacked(exc) for exc in raised), raised  # refused by the broker, not lost on the way
    assert queue_counts(broker.url, worker.QUEUE)[0] == returned  # returned <=> stored

    # The control: without confirms the same refusals go unnoticed, and batches vanish.
    unconfirmed = worker.make_celery(sandbox.settings())
    unconfirmed.conf.broker_transport_options = {}
    returned_blind, raised_blind = _publish(unconfirmed, 2)
    assert (returned_blind, raised_blind) == (2, [])
    assert queue_counts(broker.url, worker.QUEUE)[0] == returned  # neither was stored


def test_dead_letter_queue_takes_rejected_and_over_delivered_batches(
    app: Celery, broker: Broker
) -> None:
    worker.declare_dead_letter(app)
    assert queue_counts(broker.url, worker.DEAD_LETTER_QUEUE) == (0, 0)
    assert _queue_type(broker.url, _dead_letter_queue()) == "quorum"
    dispatcher = CeleryDispatcher(app, worker.QUEUE)
    dispatcher.dispatch([("rejected", 1)])
    dispatcher.dispatch([("poison", 1)])
    queue = _deliver_queue(app)

    with kombu.Connection(broker.url) as conn:
        message = queue(conn.default_channel).get(no_ack=False)
        assert message is not None
        assert message.decode()[0][0] == [["rejected", 1]]
        message.reject(requeue=False)
    assert _wait_for_count(broker.url, worker.DEAD_LETTER_QUEUE, 1) == 1

    # A batch whose worker dies before acknowledging comes back, up to the delivery limit;
    # then it is parked instead of killing workers for ever.
    seen = 0
    for _ in range(worker.DELIVERY_LIMIT + 3):
        with kombu.Connection(broker.url) as conn:
            message = queue(conn.default_channel).get(no_ack=False)
            if message is None:
                break
            assert message.decode()[0][0] == [["poison", 1]]
            seen += 1
        # leaving the block closes the connection without an ack, as a killed worker would
    assert seen == worker.DELIVERY_LIMIT + 1
    assert _wait_for_count(broker.url, worker.DEAD_LETTER_QUEUE, 2) == 2
    assert queue_counts(broker.url, worker.QUEUE) == (0, 0)

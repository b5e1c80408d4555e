"""Scaled out, whole processes: PostgreSQL, RabbitMQ, ``celery -A worker worker`` and ``relay``.

What it proves:
- every message ingested is delivered exactly once in effect by a real Celery worker fed by
  the real relay process, and with nothing going wrong nothing is sent twice;
- SIGKILL of the whole worker (main process and pool children) mid-delivery loses nothing:
  RabbitMQ gives the unacknowledged batches to a new worker, the destination ends up with
  every accepted delivery once, and the queue is empty at the end;
- the worker declares ``omsorgshub.deliver`` as a quorum queue with a dead-letter exchange and
  a delivery limit, and the dead-letter queue beside it;
- what travels through the broker is ids and claims only: a raw message taken off the queue
  holds the delivery ids and none of the person's name, identity number or document.

Each test has a RabbitMQ virtual host of its own (or, without ``rabbitmqctl``, the fixed
queues purged before and after), a PostgreSQL schema of its own and a fresh data folder.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import kombu
import pytest
from lxml import etree
from sqlalchemy import select

import worker
from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub, build_hub
from hub.demo.fictional import FictionalPeople, FictionalPerson, referral_body, referral_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, demo_agreements
from hub.outbox.dispatch import CeleryDispatcher
from hub.services.agreements import add_agreements, register_system
from hub.storage.tables import deliveries
from tests.child_python import fresh_env
from tests.e2e.processes import (
    Broker,
    Process,
    Processes,
    broker_for_test,
    celery_command,
    hub_command,
    in_progress,
    list_queues,
    queue_counts,
    require_rabbitmqctl,
)

DISTRICT = "sdn-sodermalm"
DESTINATION = "case-sodermalm"
# Recovery after a worker kill comes from RabbitMQ redelivering unacknowledged batches, not
# from the lease; a lease longer than a test run means no spurious re-sends to count.
SETTINGS = {
    "lease_seconds": "30",
    "relay_batch": "2",
    "relay_interval": "0.2",
    "retry_base_seconds": "0.1",
    "retry_cap_seconds": "1",
    "log_level": "INFO",
}


@pytest.fixture
def broker(amqp_url: str) -> Iterator[Broker]:
    with broker_for_test(amqp_url, list(worker.app.conf.task_queues or ())) as scoped:
        yield scoped


@dataclass
class ScaledHub:
    """The shared set-up: a hub folder on PostgreSQL + RabbitMQ, and an ingest-only hub here."""

    sandbox: Sandbox
    hub: Hub
    env: dict[str, str]
    broker: Broker

    def ingest(self, people: Sequence[FictionalPerson], prefix: str) -> list[str]:
        rng = random.Random(prefix)
        ids: list[str] = []
        for i, person in enumerate(people):
            body = referral_envelope(person, DISTRICT, rng, message_id=f"{prefix}-{i:04d}")
            result = self.hub.ingestor.ingest(CONTACT_CENTRE, body)
            ids += [delivery_id for delivery_id, _ in result.deliveries]
        return ids

    def states(self, ids: Sequence[str]) -> Counter[str]:
        with self.hub.reader.connect() as conn:
            rows = conn.execute(select(deliveries.c.state).where(deliveries.c.id.in_(list(ids))))
            return Counter(rows.scalars())

    def ready_and_consumers(self) -> tuple[int, int]:
        return queue_counts(self.broker.url, worker.QUEUE)

    def start_worker(self, procs: Processes, name: str) -> Process:
        args = celery_command(
            "-A", "worker", "worker", "--pool", "prefork", "--concurrency", "2",
            "-Q", worker.QUEUE, "-l", "WARNING", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle",
        )  # fmt: skip
        process = procs.start(name, args, self.env)
        procs.wait_for(
            f"{name} to consume {worker.QUEUE}",
            lambda: self.ready_and_consumers()[1] >= 1,
            timeout=30,
            watch=[process],
        )
        return process


def _env(
    home: Path, database_url: str, broker_url: str, settings: Mapping[str, str]
) -> dict[str, str]:
    values = {
        "OMSORGSHUB_HOME": str(home),
        "OMSORGSHUB_DATABASE_URL": database_url,
        "OMSORGSHUB_BROKER_URL": broker_url,
    }
    return fresh_env(values | {f"OMSORGSHUB_{k.upper()}": v for k, v in settings.items()})


@pytest.fixture
def scaled(
    tmp_path: Path, postgres_url: str, broker: Broker, double: HttpDouble
) -> Iterator[ScaledHub]:
    home = tmp_path / "hub"
    sandbox = Sandbox(home, database_url=postgres_url, broker_url=broker.url, overrides=SETTINGS)
    sandbox.write_routes(
        {DESTINATION: DestinationSpec("http", {"url": double.url, "timeout": 5})},
        [("case.referral", DISTRICT, [DESTINATION])],
    )
    hub = sandbox.open()
    try:
        register_system(hub, CONTACT_CENTRE, "contact centre (e2e)", actor="e2e")
        add_agreements(hub, demo_agreements(hub.clock()), actor="e2e")
        yield ScaledHub(sandbox, hub, _env(home, postgres_url, broker.url, SETTINGS), broker)
    finally:
        hub.close()


def test_worker_and_relay_deliver_every_message_once(
    scaled: ScaledHub, procs: Processes, double: HttpDouble
) -> None:
    scaled.start_worker(procs, "worker")
    relay = procs.start("relay", hub_command("relay"), scaled.env)
    accepted = scaled.ingest(FictionalPeople(seed=11).take(30), "E2E-CALM")
    assert len(accepted) == 30

    procs.wait_for(
        "all 30 deliveries to be delivered",
        lambda: scaled.states(accepted)["delivered"] == 30,
        timeout=40,
        watch=[relay],
    )
    stats = double.stats()
    assert set(double.documents()) == set(accepted)
    assert stats["unique"] == 30, stats
    assert stats["duplicates"] == 0, stats  # nothing failed, so nothing was sent twice
    assert scaled.states(accepted) == Counter({"delivered": 30})


def test_sigkill_of_whole_worker_mid_delivery_loses_nothing(
    scaled: ScaledHub,
    procs: Processes,
    double: HttpDouble,
    record_property: Callable[[str, object], None],
) -> None:
    count = 40
    double.set_mode("slow", delay=0.5)
    first = scaled.start_worker(procs, "worker-1")
    group = first.group_pids()
    assert len(group) >= 3, f"expected the main process and 2 pool children, found {group}"
    relay = procs.start("relay", hub_command("relay"), scaled.env)
    accepted = scaled.ingest(FictionalPeople(seed=12).take(count), "E2E-KILL")
    procs.wait_for(
        "some deliveries done and another one on the wire",
        lambda: double.unique >= 3 and in_progress(double) > 0,
        timeout=30,
        watch=[first, relay],
    )
    first.kill()
    orphans = in_progress(double)  # reached the destination, never recorded by the hub
    procs.wait_for("every worker-1 process to be gone", lambda: first.group_pids() == [], timeout=5)
    seen_at_kill = double.unique
    states_at_kill = scaled.states(accepted)
    assert seen_at_kill < count, "everything was delivered before the kill: nothing proven"
    assert states_at_kill["in_flight"] > 0, states_at_kill

    double.set_mode("up")
    second = scaled.start_worker(procs, "worker-2")
    procs.wait_for(
        f"all {count} deliveries to be delivered by the new worker",
        lambda: scaled.states(accepted)["delivered"] == count,
        timeout=40,
        watch=[second, relay],
    )
    stats = double.stats()
    assert stats["unique"] == count, stats  # nothing lost
    assert set(double.documents()) == set(accepted)
    # Requests cut off by the kill are sent again: at least once to the wire, once in effect.
    assert double.duplicates >= orphans, stats
    record_property("wire_duplicates", stats["duplicates"])
    print(
        f"at the kill the destination had {seen_at_kill} of {count} ({orphans} more on the "
        f"wire), the database {dict(states_at_kill)}; repeats on the wire: {stats['duplicates']}"
    )

    procs.wait_for(
        "the queue to be drained", lambda: scaled.ready_and_consumers()[0] == 0, timeout=20
    )
    relay.stop()
    second.stop()  # warm shutdown: anything still unacknowledged would be ready again now
    assert scaled.ready_and_consumers() == (0, 0)
    assert scaled.states(accepted) == Counter({"delivered": count})


def test_worker_declares_quorum_queue_with_dead_lettering(
    scaled: ScaledHub, procs: Processes
) -> None:
    require_rabbitmqctl("queue types are read with rabbitmqctl")
    assert scaled.broker.vhost is not None  # rabbitmqctl works, so the test has a scratch vhost
    scaled.start_worker(procs, "worker")
    queues = list_queues(scaled.broker.vhost)
    deliver = queues[worker.QUEUE]
    assert deliver.type == "quorum", queues
    assert f'{{"x-dead-letter-exchange","{worker.DEAD_LETTER_EXCHANGE}"}}' in deliver.arguments
    assert f'{{"x-delivery-limit",{worker.DELIVERY_LIMIT}}}' in deliver.arguments
    assert queues[worker.DEAD_LETTER_QUEUE].type == "quorum", queues  # declared at worker_init


def test_broker_carries_only_ids_and_claims(scaled: ScaledHub) -> None:
    people = FictionalPeople(seed=13).take(3)
    accepted = scaled.ingest(people, "E2E-WIRE")
    app = worker.make_celery(scaled.sandbox.settings())
    publisher = build_hub(scaled.sandbox.settings(), dispatcher=CeleryDispatcher(app, worker.QUEUE))
    try:
        result = publisher.relay.run_once()  # claims the 3 and publishes them; no worker runs
    finally:
        publisher.close()
    assert result.claimed == 3
    assert scaled.states(accepted) == Counter({"in_flight": 3})

    queue = next(q for q in app.conf.task_queues or () if q.name == worker.QUEUE)
    raw: list[bytes] = []
    carried: list[list[object]] = []
    with kombu.Connection(scaled.broker.url) as conn:
        while (message := queue(conn.default_channel).get(no_ack=True)) is not None:
            raw.append(message.body if isinstance(message.body, bytes) else message.body.encode())
            raw.append(json.dumps(message.headers, default=str).encode())
            raw.append(json.dumps(message.properties, default=str).encode())
            args = message.decode()[0]
            carried += args[0]
    wire = b"\n".join(raw).decode()

    assert sorted(str(c[0]) for c in carried) == sorted(accepted)
    assert all(isinstance(c[1], int) for c in carried)  # the claim counter
    rng = random.Random("E2E-WIRE")  # the same bodies ingest() made, in the same order
    for person in people:
        document = etree.fromstring(referral_body(person, DISTRICT, rng))
        texts = [str(t).strip() for t in document.itertext() if len(str(t).strip()) >= 6]
        assert person.name in texts  # the document names the person: worth looking for
        secrets = [person.given_name, person.family_name, person.identity.formatted()]
        secrets += [person.identity.canonical, *texts]
        leaked = [secret for secret in secrets if secret in wire]
        assert leaked == [], leaked

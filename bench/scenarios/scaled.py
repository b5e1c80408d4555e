"""``end-to-end-scaled`` (``--scaled-out``): PostgreSQL + RabbitMQ + Celery, as deployed.

Processes: this one ingests (``ingest_many`` in batches of 100 into PostgreSQL); ``python -m
hub relay`` claims due deliveries and publishes them to RabbitMQ (a ``CeleryDispatcher``, one
task per batch of up to ``relay_batch`` ids, publisher confirms); ``celery -A worker worker
--pool prefork --concurrency 2`` executes them (decrypt, audit, POST to the double, record);
the HTTP double runs in a process of its own. A warm-up message goes all the way through
before the clock starts (workers connected, hub built in each child). The clock runs from
the first ingest until the double has stored every message. Delivery latency (received →
delivered) is read from the database afterwards.

Baseline: a bare Celery pipeline on the same broker (``bench.noop_celery``): a worker with the
product's Celery settings and the same command line, and this process publishing N no-op
tasks (one id each, publisher confirms) until the worker has run them all. Note what the
baseline does not do: the product carries up to ``relay_batch`` ids per task, so it
publishes fewer, larger tasks; the ratio shows the whole product (database, guards, HTTP)
against the broker round trips of one task per message.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from bench.noop_celery import NOOP_QUEUE, NOOP_TASK, TALLY_ENV, make_noop_app
from bench.processes import Child, DoubleWatch, MachineCpu, child, child_env, http_double
from bench.report import Row, percentile
from bench.servers import (
    delete_queue,
    postgres_schema,
    queue_in_use,
    rabbitmq_vhost,
    unreachable,
)
from bench.workload import Options, documents, ingest_all, prepare_hub, scratch_folder
from hub.bootstrap import Hub
from hub.storage.tables import deliveries, messages

POSTGRES_ENV = "OMSORGSHUB_TEST_POSTGRES_URL"
AMQP_ENV = "OMSORGSHUB_TEST_AMQP_URL"
RATIO_TARGET = 1.0
CONCURRENCY = 2
PRODUCT_QUEUE = "omsorgshub.deliver"


def _worker_args(app: str, name: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", app, "worker", "--pool", "prefork",
        "--concurrency", str(CONCURRENCY), "--loglevel", "WARNING", "-n", f"{name}@%h",
    ]  # fmt: skip


def _tally(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _wait_tally(path: Path, count: int, timeout: float, workers: Sequence[Child]) -> float:
    deadline = time.monotonic() + timeout
    while True:
        now = time.monotonic()
        if _tally(path) >= count:
            return now
        for w in workers:
            if not w.alive():
                raise RuntimeError(f"{w.name} exited:\n{w.tail()}")
        if now > deadline:
            raise TimeoutError(f"{_tally(path)} of {count} no-op tasks ran in {timeout:.0f} s")
        time.sleep(0.01)


def bare_celery(folder: Path, env: dict[str, str], hub: Hub, n: int) -> tuple[float, str]:
    """Publish ``n`` no-op tasks and wait until the worker ran them; returns seconds and
    where the CPU went."""
    tally = folder / "noop.tally"
    app = make_noop_app(hub.settings)
    name = f"bench-noop-{uuid.uuid4().hex[:6]}"
    worker_env = {**env, TALLY_ENV: str(tally)}
    with child("noop-worker", _worker_args("bench.noop_celery:app", name), worker_env, folder) as w:
        app.send_task(NOOP_TASK, args=[[["warm-up", 1]]], queue=NOOP_QUEUE)
        _wait_tally(tally, 1, 120, [w])
        cpu = Cpu({"publisher (this process)": None, "worker": w})
        began = time.monotonic()
        for i in range(n):
            app.send_task(NOOP_TASK, args=[[[f"noop-{i}", 1]]], queue=NOOP_QUEUE)
        done = _wait_tally(tally, n + 1, max(120.0, n / 20), [w])
        used = cpu.used(done - began)
    app.close()
    delete_queue(hub.settings.broker_url, NOOP_QUEUE)
    return done - began, used


class Cpu:
    """CPU used by some processes over a window, as shares of one core."""

    def __init__(self, processes: dict[str, Child | None]) -> None:
        self._processes = processes  # None: this process
        self._start = {name: self._now(c) for name, c in processes.items()}
        self._machine = MachineCpu()

    @staticmethod
    def _now(c: Child | None) -> float:
        if c is None:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return usage.ru_utime + usage.ru_stime
        return c.cpu_seconds()

    def used(self, seconds: float) -> str:
        machine = self._machine.share()
        shares = [
            f"{name} {(self._now(c) - self._start[name]) / seconds:.0%}"
            for name, c in self._processes.items()
        ]
        return "CPU (share of one core): " + ", ".join(shares) + f"; {machine}"


def _latencies(hub: Hub) -> list[float]:
    with hub.reader.connect() as conn:
        rows = conn.execute(
            select(messages.c.received_at, deliveries.c.delivered_at)
            .join(deliveries, deliveries.c.message_id == messages.c.id)
            .where(deliveries.c.delivered_at.is_not(None))
        ).all()
    return [(d - r).total_seconds() for r, d in rows]


def run(options: Options) -> list[Row]:
    row = Row("end-to-end-scaled", options.messages, target_ratio=RATIO_TARGET)
    pg = options.postgres_url or os.environ.get(POSTGRES_ENV, "")
    amqp = options.amqp_url or os.environ.get(AMQP_ENV, "")
    missing = [
        f"{flag} or {env}" for flag, env, url in (
            ("--postgres-url", POSTGRES_ENV, pg), ("--amqp-url", AMQP_ENV, amqp)
        ) if not url
    ]  # fmt: skip
    if missing:
        row.skipped = "needs " + " and ".join(missing)
        return [row]
    problem = unreachable(pg, 5432) or unreachable(amqp, 5672)
    if problem:
        row.skipped = problem
        return [row]
    with rabbitmq_vhost(amqp) as (broker, how):
        busy = queue_in_use(broker, PRODUCT_QUEUE)
        if busy:
            row.skipped = busy
            return [row]
        with postgres_schema(pg) as database:
            _measure(options, row, database, broker)
        row.notes.append(f"RabbitMQ: {how}; PostgreSQL: a scratch schema, dropped afterwards")
    return [row]


def _measure(options: Options, row: Row, database: str, broker: str) -> None:
    say = options.progress
    n = options.messages
    docs = documents(n)
    warm = documents(1, seed=7, prefix="WARM")
    with scratch_folder("scaled") as folder, http_double(folder) as (double, url):
        prepared = prepare_hub(folder / "home", url, database_url=database, broker_url=broker)
        hub = prepared.hub
        watch = DoubleWatch(url)
        try:
            env = child_env(
                {
                    "OMSORGSHUB_HOME": str(prepared.sandbox.home),
                    "OMSORGSHUB_DATABASE_URL": database,
                    "OMSORGSHUB_BROKER_URL": broker,
                    "OMSORGSHUB_LOG_LEVEL": "WARNING",
                }
            )
            say(f"end-to-end-scaled: baseline, {n} no-op Celery tasks")
            row.baseline_seconds, baseline_cpu = bare_celery(folder, env, hub, n)

            name = f"bench-{uuid.uuid4().hex[:6]}"
            relay_args = [sys.executable, "-m", "hub", "relay"]
            with (
                child("worker", _worker_args("worker", name), env, folder) as worker,
                child("relay", relay_args, env, folder) as relay,
            ):
                cpu_of = {"ingest (this process)": None, "worker": worker, "relay": relay}
                say("end-to-end-scaled: warm-up message through relay, RabbitMQ and worker")
                ingest_all(hub, warm)
                _wait_alive(watch, 1, [worker, relay])
                watch.reset()
                say(f"end-to-end-scaled: ingest + deliver x{n}")
                step = max(1, n // 4)

                def progress(done: int) -> None:
                    if done % step < 100:
                        say(f"  ingested {done}/{n}; the double has {watch.unique()}")

                cpu = Cpu({**cpu_of, "double": double})
                began = time.monotonic()
                ingest_all(hub, docs, progress)
                ingested = time.monotonic() - began
                _wait_alive(watch, n, [worker, relay], began)
                row.seconds = time.monotonic() - began
                product_cpu = cpu.used(row.seconds)
            lat = _latencies(hub)
        finally:
            watch.close()
            hub.close()
    row.notes += [
        f"delivery latency p50 {1e3 * percentile(lat, 50):.0f} ms, "
        f"p99 {1e3 * percentile(lat, 99):.0f} ms; ingest phase {ingested:.2f} s",
        f"worker: celery prefork, concurrency {CONCURRENCY}; relay: `python -m hub relay`; "
        "baseline: one no-op task per message on the same settings",
        f"product {product_cpu}",
        f"baseline {baseline_cpu}",
    ]


def _wait_alive(
    watch: DoubleWatch, count: int, children: Sequence[Child], began: float | None = None
) -> None:
    """Poll the double until it has ``count`` documents, failing fast if a child died."""
    start = time.monotonic() if began is None else began
    deadline = start + max(120.0, count / 20)
    while watch.unique() < count:
        for c in children:
            if not c.alive():
                raise RuntimeError(f"{c.name} exited with {c.process.returncode}:\n{c.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the double has {watch.unique()} of {count} after the deadline")
        time.sleep(0.02)

"""``end-to-end-scaled`` (``--scaled-out``): PostgreSQL + RabbitMQ + Celery, as deployed.

Processes: this one ingests (``ingest_many`` in batches of 100 into PostgreSQL); ``python -m
hub relay`` claims due deliveries and publishes them to RabbitMQ (a ``CeleryDispatcher``, one
task per batch of up to ``relay_batch`` ids, publisher confirms); ``celery -A worker worker
--pool prefork --concurrency 2`` executes them (decrypt, audit, POST to the double, record);
the HTTP double runs in a process of its own. A warm-up message goes all the way through
before the clock starts (workers connected, hub built in each child). The clock runs from
the first ingest until the double has stored every message. Delivery latency (received →
delivered) is read from the database afterwards.

Baselines: a bare Celery pipeline on the same broker (``bench.noop_celery``): a worker with
the product's Celery settings and the same command line, and this process publishing no-op
tasks (publisher confirms) until the worker has run them all, measured two ways, each its own
row:

- ``celery-baseline-batched``: the N ids in tasks of up to ``relay_batch`` ids each
  (ceil(N / relay_batch) tasks), as the relay's ``CeleryDispatcher`` carries them. This is the
  baseline of ``end-to-end-scaled`` (issue 16: at least 1.0x the batched Celery pipeline): the
  same broker round trips as the product, without its database, guards and HTTP.
- ``celery-baseline-unbatched``: one task per id (N tasks), the broker's cost per message.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from bench.noop_celery import NOOP_QUEUE, NOOP_TASK, TALLY_ENV, make_noop_app
from bench.processes import (
    Child,
    CpuShares,
    DoubleWatch,
    child,
    child_env,
    http_double,
    local_servers_cpu,
    own_cpu_seconds,
)
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


def worker_args(app: str, name: str, concurrency: int = CONCURRENCY) -> list[str]:
    """``celery -A <app> worker`` as deployed: prefork, ``concurrency`` child processes."""
    return [
        sys.executable, "-m", "celery", "-A", app, "worker", "--pool", "prefork",
        "--concurrency", str(concurrency), "--loglevel", "WARNING", "-n", f"{name}@%h",
    ]  # fmt: skip


def scaled_out_urls(options: Options) -> tuple[str, str] | str:
    """The PostgreSQL and RabbitMQ URLs of a scaled-out run, or why it cannot run."""
    pg = options.postgres_url or os.environ.get(POSTGRES_ENV, "")
    amqp = options.amqp_url or os.environ.get(AMQP_ENV, "")
    missing = [
        f"{flag} or {env}" for flag, env, url in (
            ("--postgres-url", POSTGRES_ENV, pg), ("--amqp-url", AMQP_ENV, amqp)
        ) if not url
    ]  # fmt: skip
    if missing:
        return "needs " + " and ".join(missing)
    return unreachable(pg, 5432) or unreachable(amqp, 5672) or (pg, amqp)


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
            raise TimeoutError(f"{_tally(path)} of {count} no-op ids ran in {timeout:.0f} s")
        time.sleep(0.01)


def bare_celery(
    folder: Path, env: dict[str, str], hub: Hub, n: int, batches: Sequence[int]
) -> list[tuple[float, str]]:
    """For each batch size, publish ``n`` ids to a no-op worker in tasks of up to that many
    ids and wait until the worker has run them all; returns seconds and where the CPU went,
    one pair per batch size. One worker serves every batch size (warmed up once)."""
    tally = folder / "noop.tally"  # one byte per id run, warm-up included
    app = make_noop_app(hub.settings)
    name = f"bench-noop-{uuid.uuid4().hex[:6]}"
    worker_env = {**env, TALLY_ENV: str(tally)}
    results = []
    with child("noop-worker", worker_args("bench.noop_celery:app", name), worker_env, folder) as w:
        app.send_task(NOOP_TASK, args=[[["warm-up", 1]]], queue=NOOP_QUEUE)
        ran = 1
        _wait_tally(tally, ran, 120, [w])
        for batch in batches:
            cpu = CpuShares(
                {
                    "publisher (this process)": own_cpu_seconds,
                    "worker": w.cpu_seconds,
                    **local_servers_cpu(),
                }
            )
            began = time.monotonic()
            for start in range(0, n, batch):
                claims = [[f"noop-{batch}-{i}", 1] for i in range(start, min(n, start + batch))]
                app.send_task(NOOP_TASK, args=[claims], queue=NOOP_QUEUE)
            ran += n
            done = _wait_tally(tally, ran, max(120.0, n / 20), [w])
            results.append((done - began, cpu.used(done - began)))
    app.close()
    delete_queue(hub.settings.broker_url, NOOP_QUEUE)
    return results


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
    urls = scaled_out_urls(options)
    if isinstance(urls, str):
        row.skipped = urls
        return [row]
    pg, amqp = urls
    batched = Row("celery-baseline-batched", options.messages)
    unbatched = Row("celery-baseline-unbatched", options.messages)
    with rabbitmq_vhost(amqp) as (broker, how):
        busy = queue_in_use(broker, PRODUCT_QUEUE)
        if busy:
            row.skipped = busy
            return [row]
        with postgres_schema(pg) as database:
            _measure(options, (row, batched, unbatched), database, broker)
        row.notes.append(f"RabbitMQ: {how}; PostgreSQL: a scratch schema, dropped afterwards")
    return [row, batched, unbatched]


def _measure(options: Options, rows: tuple[Row, Row, Row], database: str, broker: str) -> None:
    row, batched, unbatched = rows
    say = options.progress
    n = options.messages
    docs = documents(n)
    warm = documents(1, seed=7, prefix="WARM")
    with scratch_folder("scaled") as folder, http_double(folder) as (double, url):
        prepared = prepare_hub(folder / "home", url, database_url=database, broker_url=broker)
        hub = prepared.hub
        batch = hub.settings.relay_batch
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
            say(f"end-to-end-scaled: baselines, {n} no-op ids in tasks of {batch} and of 1")
            (batched.seconds, batched_cpu), (unbatched.seconds, unbatched_cpu) = bare_celery(
                folder, env, hub, n, (batch, 1)
            )
            row.baseline_seconds = batched.seconds

            name = f"bench-{uuid.uuid4().hex[:6]}"
            relay_args = [sys.executable, "-m", "hub", "relay"]
            with (
                child("worker", worker_args("worker", name), env, folder) as worker,
                child("relay", relay_args, env, folder) as relay,
            ):
                say("end-to-end-scaled: warm-up message through relay, RabbitMQ and worker")
                ingest_all(hub, warm)
                wait_delivered(watch, 1, [worker, relay])
                watch.reset()
                say(f"end-to-end-scaled: ingest + deliver x{n}")
                step = max(1, n // 4)

                def progress(done: int) -> None:
                    if done % step < 100:
                        say(f"  ingested {done}/{n}; the double has {watch.unique()}")

                cpu = CpuShares(
                    {
                        "ingest (this process)": own_cpu_seconds,
                        "worker": worker.cpu_seconds,
                        "relay": relay.cpu_seconds,
                        "double": double.cpu_seconds,
                        **local_servers_cpu(),
                    }
                )
                began = time.monotonic()
                ingest_all(hub, docs, progress)
                ingested = time.monotonic() - began
                wait_delivered(watch, n, [worker, relay], began)
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
        f"baseline: the bare Celery pipeline batched as the relay batches ({batch} ids a task); "
        f"against the unbatched one (one task per message) {row.rate / unbatched.rate:.2f}x",
        f"product {product_cpu}",
    ]
    batched.notes += [
        f"{-(-n // batch)} no-op tasks of up to {batch} ids (relay_batch), publisher confirms, "
        f"worker prefork concurrency {CONCURRENCY}",
        batched_cpu,
    ]
    unbatched.notes += [f"{n} no-op tasks of one id each, as above", unbatched_cpu]


def wait_delivered(
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

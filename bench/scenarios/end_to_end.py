"""``end-to-end-embedded``: ingest → stored → relay → delivery thread → HTTP double.

The embedded hub runs in this process as ``omsorgshub serve`` runs it (``hub.start()``: the
relay and ``workers`` delivery threads, SQLite), with the product's default settings. The
HTTP double runs in a process of its own. Messages are ingested in-process with
``ingest_many`` in batches of 100 (HTTP ingest is measured by ``http-ingest``) while the
deliveries run; the clock runs from the first ingest until the double has stored every
message (polled every 20 ms). Delivery latency (received → outcome recorded) comes from
``hub.on_outcome``.

Baseline: the double alone, POSTed the same message bodies with the adapter's headers from
``workers`` threads, each with its own keep-alive ``urllib3.HTTPConnectionPool`` (what the HTTP
adapter uses), until it has stored them all.

``measure_embedded`` is shared with the ``guards`` scenario (guards on vs off).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import urllib3

from bench.guards_off import switch_off
from bench.processes import (
    Child,
    DoubleWatch,
    MachineCpu,
    http_double,
    own_cpu_seconds,
    tree_cpu_seconds,
)
from bench.report import Row, percentile
from bench.workload import (
    SENDER,
    Options,
    documents,
    in_threads,
    ingest_all,
    prepare_hub,
    scratch_folder,
)
from hub.cli.main import start_delivering
from hub.demo.scenario import DISTRICTS
from hub.outbox.delivery import AttemptOutcome
from hub.services.delivery_process import DeliveryProcess
from schemas.envelope import read_envelope
from schemas.registry import default_registry


@dataclass
class Delivered:
    count: int = 0
    seconds: float = 0.0
    ingest_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    not_delivered: int = 0
    workers: int = 0
    hub_cpu: float = 0.0  # CPU seconds of this process (the hub and the ingest loop)
    double_cpu: float = 0.0
    machine: str = ""

    def summary(self) -> str:
        latency = (
            f"delivery latency p50 {1e3 * percentile(self.latencies, 50):.0f} ms, "
            f"p99 {1e3 * percentile(self.latencies, 99):.0f} ms"
            if self.latencies
            else "deliveries in the delivery process (latency not seen here)"
        )
        return (
            f"{self.count / self.seconds:,.0f} msg/s; {latency}; ingest phase "
            f"{self.ingest_seconds:.2f} s; CPU: hub {self.hub_cpu / self.seconds:.0%} of a core "
            f"({1e3 * self.hub_cpu / self.count:.2f} ms per message), double "
            f"{self.double_cpu / self.seconds:.0%}; {self.machine}"
        )


def timeout_for(count: int) -> float:
    return max(120.0, count / 20)


def measure_embedded(
    home: Path,
    docs: Sequence[bytes],
    double_url: str,
    watch: DoubleWatch,
    double: Child,
    *,
    guards_on: bool = True,
    say: Callable[[str], None] = lambda _t: None,
) -> Delivered:
    """One embedded end-to-end run on a fresh hub in ``home``."""
    prepared = prepare_hub(home, double_url)
    hub = prepared.hub
    result = Delivered(count=len(docs), workers=hub.settings.workers)
    lock = threading.Lock()

    def outcome(o: AttemptOutcome) -> None:
        if o.state.value == "delivered":
            with lock:
                result.latencies.append(o.latency_seconds or 0.0)
        else:
            with lock:
                result.not_delivered += 1

    deliveries: DeliveryProcess | None = None

    def hub_cpu_seconds() -> float:
        child = None if deliveries is None else deliveries.pid
        return own_cpu_seconds() + (0.0 if child is None else tree_cpu_seconds(child))

    try:
        if not guards_on:
            switch_off(hub, DISTRICTS)
        hub.on_outcome(outcome)
        watch.reset()
        if hub.settings.delivery_process:  # --set delivery_process=true: as `serve` runs it
            deliveries = DeliveryProcess(hub.settings, start_delivering, None)
            deliveries.start()
            hub.relay.forward_wakes(deliveries.wake)
            hub.ingestor.ingest_many(SENDER, documents(1, seed=5, prefix="WARM-DP"))
            watch.wait_for(1, timeout_for(1))  # the child is up and delivering
            watch.reset()
        else:
            hub.start()
        step = max(1, len(docs) // 4)

        def progress(done: int) -> None:
            if done % step < 100:
                say(f"  ingested {done}/{len(docs)}; the double has {watch.unique()}")

        cpu0, double0, machine = hub_cpu_seconds(), double.cpu_seconds(), MachineCpu()
        began = time.monotonic()
        ingest_all(hub, docs, progress)
        result.ingest_seconds = time.monotonic() - began
        seen = watch.wait_for(len(docs), timeout_for(len(docs)))
        result.seconds = seen - began
        result.hub_cpu = hub_cpu_seconds() - cpu0
        result.double_cpu = double.cpu_seconds() - double0
        result.machine = machine.share()
    finally:
        if deliveries is not None:
            deliveries.stop()
        hub.close()
    return result


def post_directly(docs: Sequence[bytes], double_url: str, threads: int) -> float:
    """The baseline: the same bodies and headers POSTed by ``threads`` keep-alive clients."""
    registry = default_registry()
    bodies = []
    for doc in docs:
        env = read_envelope(doc, registry)
        bodies.append((env.body_bytes, env.district, env.message_type))
    target = urllib3.util.parse_url(double_url)
    clients: list[urllib3.HTTPConnectionPool] = []
    lock = threading.Lock()

    def setup() -> Callable[[int], None]:
        client = urllib3.HTTPConnectionPool(
            target.host or "127.0.0.1", target.port, maxsize=1, timeout=10, retries=False
        )
        with lock:
            clients.append(client)

        def post(i: int) -> None:
            body, district, message_type = bodies[i]
            r = client.urlopen(
                "POST",
                target.request_uri,
                body=body,
                headers={
                    "Content-Type": "application/xml",
                    "Idempotency-Key": str(uuid.uuid4()),
                    "X-Omsorgshub-Message-Id": str(uuid.uuid4()),
                    "X-Omsorgshub-Message-Type": message_type,
                    "X-Omsorgshub-District": district,
                    "X-Omsorgshub-Attempt": "1",
                },
                redirect=False,
            )
            if r.status != 201:
                raise RuntimeError(f"the double answered {r.status}")

        return post

    try:
        return in_threads(len(docs), setup, threads)
    finally:
        for c in clients:
            c.close()


def run(options: Options) -> list[Row]:
    say = options.progress
    n = options.messages
    docs = documents(n)
    row = Row("end-to-end-embedded", n)
    with scratch_folder("e2e") as folder, http_double(folder) as (double, url):
        watch = DoubleWatch(url)
        try:
            say(f"end-to-end-embedded: ingest + deliver x{n} to the HTTP double")
            result = measure_embedded(folder / "home", docs, url, watch, double, say=say)
            row.seconds = result.seconds
            say(f"end-to-end-embedded: baseline, {result.workers} threads POST x{n} directly")
            watch.reset()
            double0 = double.cpu_seconds()
            row.baseline_seconds = post_directly(docs, url, result.workers)
            base_double_cpu = double.cpu_seconds() - double0
            if watch.unique() != n:
                raise RuntimeError(f"the double stored {watch.unique()} of {n} baseline POSTs")
        finally:
            watch.close()
    row.notes += [
        result.summary(),
        f"{result.workers} delivery threads (setting workers), relay_batch and relay_interval "
        "at their defaults; baseline: the same number of threads POSTing directly (double "
        f"CPU {base_double_cpu / row.baseline_seconds:.0%} of a core)",
    ]
    if result.not_delivered:
        row.notes.append(f"{result.not_delivered} attempts did not deliver at first try")
    return [row]

"""``scaled-curve`` (``--scaled-out``): does a second ``serve`` or a second worker add throughput?

The product as deployed scaled out, driven through HTTP, at four points (N ``serve``, M
workers): (1, 1), (2, 1), (1, 2), (2, 2), and (1, 1) again last, a row of its own, so that
the drift of a shared machine over the run shows beside the curve. Per point, on one
PostgreSQL schema and one RabbitMQ virtual host for the whole curve:

- N x ``python -m hub serve --no-worker``, each on a port of its own. ``--no-worker`` is what
  a scaled-out API runs: a plain ``serve`` builds its hub with the in-process dispatcher and
  would claim and deliver in its own threads, broker URL or not, beside the Celery workers;
- one ``python -m hub relay`` (claims due deliveries, publishes batches of up to
  ``relay_batch`` ids to RabbitMQ with publisher confirms; it polls every ``relay_interval``,
  as ingest in another process cannot wake it);
- M x ``celery -A worker worker --pool prefork --concurrency 1``. One child each, so that M
  counts the processes executing deliveries: with ``end-to-end-scaled``'s concurrency 2, one
  worker already runs as many as the machine this was written on has cores, and a second
  worker would measure four executing processes on two cores, not a second worker;
- the HTTP double in a process of its own.

Load: ``--clients`` closed-loop threads in this process (at least 32, as ``open-loop``: with
fewer, each request's wait for the group commit and the PostgreSQL commit bounds the rate, and
a second ``serve`` could not show), each with its own keep-alive connection to one of the
``serve`` processes (spread evenly; the same total at every point), POSTing one envelope per
request (``http-ingest``'s load code); every answer must be 202. 200 envelopes go all the way
through first, untimed (schemas compiled in each ``serve``, hub built in each worker child).
The clock runs from the first timed POST until the double has stored every message; each
point has envelopes of its own (a repeated message id would be answered as the same message).

Each row's baseline is the first (1, 1) point, so the ratio reads as scaling. The notes give
the ingest phase alone (the closed-loop HTTP rate) and the CPU of each process kind over the
window, as a share of a core and per message, PostgreSQL's and RabbitMQ's too when they run
on this machine: on a machine of few cores, a second process adds throughput only if a core
was idle, and the shares say where it went.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.processes import (
    Child,
    CpuShares,
    DoubleWatch,
    child,
    child_env,
    children_cpu,
    free_port,
    http_double,
    local_servers_cpu,
    own_cpu_seconds,
    wait_http,
)
from bench.report import Row
from bench.scenarios.http_ingest import _load
from bench.scenarios.scaled import (
    PRODUCT_QUEUE,
    scaled_out_urls,
    wait_delivered,
    worker_args,
)
from bench.servers import postgres_schema, queue_in_use, rabbitmq_vhost
from bench.workload import (
    Options,
    documents,
    prepare_hub,
    scratch_folder,
    setting_variables,
)

# (serve processes, Celery workers); (1, 1) again at the end: how far the machine drifted.
POINTS = ((1, 1), (2, 1), (1, 2), (2, 2), (1, 1))
WORKER_CONCURRENCY = 1
WARM_UP = 200
MIN_CLIENTS = 32
# The kinds whose CPU per message is the product's: a figure that other load on a shared
# machine moves less than the rate.
PRODUCT_KINDS = ("serve (all)", "workers (all)", "relay", "postgres", "rabbitmq")


def _name(k: int, serves: int, workers: int) -> str:
    again = " (again)" if (serves, workers) in POINTS[:k] else ""
    return f"scaled-curve@{serves}serve+{workers}worker{again}"


def run(options: Options) -> list[Row]:
    rows = [Row(_name(k, n, m), options.messages) for k, (n, m) in enumerate(POINTS)]
    urls = scaled_out_urls(options)
    if isinstance(urls, str):
        return [Row("scaled-curve", options.messages, skipped=urls)]
    pg, amqp = urls
    with rabbitmq_vhost(amqp) as (broker, how):
        busy = queue_in_use(broker, PRODUCT_QUEUE)
        if busy:
            return [Row("scaled-curve", options.messages, skipped=busy)]
        with (
            postgres_schema(pg) as database,
            scratch_folder("curve") as folder,
            http_double(folder) as (double, url),
        ):
            prepared = prepare_hub(folder / "home", url, database_url=database, broker_url=broker)
            prepared.hub.close()
            env = child_env(
                {
                    "OMSORGSHUB_HOME": str(prepared.sandbox.home),
                    "OMSORGSHUB_DATABASE_URL": database,
                    "OMSORGSHUB_BROKER_URL": broker,
                    "OMSORGSHUB_LOG_LEVEL": "WARNING",
                    **setting_variables(),
                }
            )
            point = _Point(options, folder, env, prepared.token, url, double)
            try:
                for k, (n, m) in enumerate(POINTS):
                    point.measure(k, n, m, rows[k])
            finally:
                point.close()
    for row in rows:
        row.baseline_seconds = rows[0].seconds
    rows[0].notes.append(
        f"RabbitMQ: {how}; PostgreSQL: a scratch schema, dropped afterwards; one "
        f"`python -m hub relay` at every point; workers prefork, concurrency "
        f"{WORKER_CONCURRENCY} each; {max(MIN_CLIENTS, options.clients)} client threads"
    )
    return rows


class _Point:
    """Starts the processes of one point, measures it, and stops them again."""

    def __init__(
        self,
        options: Options,
        folder: Path,
        env: dict[str, str],
        token: str,
        double_url: str,
        double: Child,
    ) -> None:
        self._options = options
        self._folder = folder
        self._env = env
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
        self._watch = DoubleWatch(double_url)
        self._double = double

    def close(self) -> None:
        self._watch.close()

    def _post(self, bases: tuple[str, ...], docs: list[bytes], first: list[float]) -> None:
        """POST ``docs`` from the client threads; ``first`` gets the time of the first send."""
        lock = threading.Lock()

        def post(c: httpx.Client, i: int) -> int:
            if not first:
                with lock:
                    if not first:
                        first.append(time.monotonic())
            r = c.post("/api/v1/messages", content=docs[i], headers=self._headers)
            return 0 if r.status_code == 202 else r.status_code

        clients = max(MIN_CLIENTS, self._options.clients)
        _seconds, bad = _load(bases, clients, len(docs), post)
        if bad:
            raise RuntimeError(f"the API refused {bad} of {len(docs)} messages")

    def measure(self, k: int, serves: int, workers: int, row: Row) -> None:
        say, n = self._options.progress, self._options.messages
        say(f"scaled-curve: {serves} serve, {workers} worker: starting")
        serve = [sys.executable, "-m", "hub", "serve", "--no-worker", "--host", "127.0.0.1"]
        ports = [free_port() for _ in range(serves)]
        tag = uuid.uuid4().hex[:6]
        with ExitStack() as stack:

            def start(name: str, args: list[str]) -> Child:
                return stack.enter_context(child(f"p{k}-{name}", args, self._env, self._folder))

            apis = [start(f"serve-{i}", [*serve, "--port", str(p)]) for i, p in enumerate(ports)]
            pool = [
                start(f"worker-{j}", worker_args("worker", f"curve-{tag}-{j}", WORKER_CONCURRENCY))
                for j in range(workers)
            ]
            relay = start("relay", [sys.executable, "-m", "hub", "relay"])
            bases = tuple(f"http://127.0.0.1:{p}" for p in ports)
            for api, base in zip(apis, bases, strict=True):
                wait_http(api, base + "/healthz")
            everyone = [*apis, *pool, relay]
            self._watch.reset()
            self._post(bases, documents(WARM_UP, seed=7 + k, prefix=f"WARM{k}"), [])
            wait_delivered(self._watch, WARM_UP, everyone)
            self._watch.reset()
            docs = documents(n, seed=100 + k, prefix=f"CURVE{k}")
            say(f"scaled-curve: {serves} serve, {workers} worker: POST + deliver x{n}")
            cpu = CpuShares(self._kinds(apis, pool, relay))
            first: list[float] = []
            self._post(bases, docs, first)
            ingested = time.monotonic() - first[0]
            wait_delivered(self._watch, n, everyone, first[0])
            row.seconds = time.monotonic() - first[0]
            shares = cpu.used(row.seconds)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        product = sum(cpu.spent.get(kind, 0.0) for kind in PRODUCT_KINDS)
        row.notes += [
            f"ingest phase (closed-loop POSTs) {ingested:.2f} s = {n / ingested:,.0f} msg/s; "
            f"delivered {row.rate:,.0f} msg/s; load average {load:.2f} at the end",
            shares,
            "CPU per message: "
            + ", ".join(f"{kind} {1e3 * s / n:.2f} ms" for kind, s in cpu.spent.items())
            + f"; the product ({' + '.join(PRODUCT_KINDS)}) {1e3 * product / n:.2f} ms",
        ]

    def _kinds(
        self, apis: list[Child], pool: list[Child], relay: Child
    ) -> dict[str, Callable[[], float]]:
        return {
            "serve (all)": children_cpu(apis),
            "workers (all)": children_cpu(pool),
            "relay": relay.cpu_seconds,
            "double": self._double.cpu_seconds,
            "load generator (this process)": own_cpu_seconds,
            **local_servers_cpu(),
        }

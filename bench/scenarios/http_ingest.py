"""``http-ingest``: envelopes POSTed to the API, ingest only (no embedded worker).

The server is the product's own command, ``python -m hub serve --no-worker``, in a process of
its own (so it does not share a GIL with the load generator), on a fresh sandbox with
``log_level=WARNING`` (no access log). The load is ``--clients`` threads in this process, each
with its own keep-alive ``httpx.Client``, posting the envelopes one by one; every answer must
be 202. 100 other envelopes are posted untimed first (each server thread compiles its schemas
on first use). Baseline: the same server and the same client threads, ``GET /healthz`` the
same number of times (FastAPI + uvicorn + the client loop, without the ingest work). The CPU
time the server process used is reported, which tells whether the server or the client was
the limit.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import httpx

from bench.processes import Child, MachineCpu, child, child_env, free_port, wait_http
from bench.report import Row
from bench.workload import Options, documents, in_threads, prepare_hub, scratch_folder

TARGET = 1_000.0
WARM_UP = 100
UNUSED_URL = "http://127.0.0.1:9/messages"


def _load(
    base_urls: str | tuple[str, ...],
    clients: int,
    count: int,
    request: Callable[[httpx.Client, int], int],
) -> tuple[float, int]:
    """``count`` requests from ``clients`` threads, each with its own keep-alive client that
    is connected before the clock starts; returns seconds and the number of unexpected
    answers. Several servers: client ``k`` talks to ``base_urls[k % len(base_urls)]``."""
    bases = (base_urls,) if isinstance(base_urls, str) else base_urls
    made: list[httpx.Client] = []
    lock = threading.Lock()
    bad = 0

    def setup() -> Callable[[int], None]:
        with lock:
            base_url = bases[len(made) % len(bases)]
            c = httpx.Client(base_url=base_url, timeout=60, trust_env=False)
            made.append(c)
        c.get("/healthz").raise_for_status()

        def work(i: int) -> None:
            nonlocal bad
            if request(c, i) != 0:
                with lock:
                    bad += 1

        return work

    try:
        seconds = in_threads(count, setup, clients)
    finally:
        for c in made:
            c.close()
    return seconds, bad


def run(options: Options) -> list[Row]:
    say = options.progress
    n, clients = options.messages, options.clients
    docs = documents(n)
    warm = documents(WARM_UP, seed=7, prefix="WARM")  # posted untimed before the measurement
    row = Row("http-ingest", n, target_rate=TARGET)
    with scratch_folder("http") as folder:
        prepared = prepare_hub(folder / "home", UNUSED_URL)
        prepared.hub.close()
        token = prepared.token
        port = free_port()
        env = child_env(
            {"OMSORGSHUB_HOME": str(prepared.sandbox.home), "OMSORGSHUB_LOG_LEVEL": "WARNING"}
        )
        args = [sys.executable, "-m", "hub", "serve", "--no-worker", "--host", "127.0.0.1"]
        with child("api", [*args, "--port", str(port)], env, folder) as server:
            base = f"http://127.0.0.1:{port}"
            wait_http(server, base + "/healthz")
            say(f"http-ingest: baseline, GET /healthz x{n} from {clients} clients")
            cpu0 = server.cpu_seconds()
            row.baseline_seconds, bad = _load(base, clients, n, _healthz)
            base_cpu = server.cpu_seconds() - cpu0
            if bad:
                raise RuntimeError(f"/healthz answered {bad} requests with other than 200")
            say(f"http-ingest: POST /api/v1/messages x{n} from {clients} clients")
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

            def post(c: httpx.Client, i: int, batch: list[bytes]) -> int:
                r = c.post("/api/v1/messages", content=batch[i], headers=headers)
                return 0 if r.status_code == 202 else r.status_code

            _, bad = _load(base, clients, len(warm), lambda c, i: post(c, i, warm))
            _check(server, bad)
            cpu0, machine = server.cpu_seconds(), MachineCpu()
            row.seconds, bad = _load(base, clients, n, lambda c, i: post(c, i, docs))
            ingest_cpu = server.cpu_seconds() - cpu0
            busy = machine.share()
            _check(server, bad)
    row.notes += [
        f"{clients} client threads (keep-alive httpx) in the bench process; server "
        "`python -m hub serve --no-worker` in its own process",
        f"server CPU: {ingest_cpu / row.seconds:.0%} of one core while ingesting "
        f"({1e3 * ingest_cpu / n:.2f} ms per message), {base_cpu / row.baseline_seconds:.0%} "
        f"during the baseline ({1e3 * base_cpu / n:.2f} ms per request); while ingesting, {busy}",
    ]
    return [row]


def _healthz(c: httpx.Client, _i: int) -> int:
    r = c.get("/healthz")
    return 0 if r.status_code == 200 else r.status_code


def _check(server: Child, bad: int) -> None:
    if bad:
        raise RuntimeError(f"the API refused {bad} messages:\n{server.tail()}")

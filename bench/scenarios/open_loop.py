"""``open-loop``: what a sender feels, at fixed offered rates, through HTTP, guards on.

The embedded hub as it is run, ``python -m hub serve`` (API, relay and delivery threads in one
process, SQLite, default settings, ``log_level=WARNING``), and the HTTP double as destination,
each in a process of its own. For each offered rate (``--rates``, default 100 and 500 msg/s)
ten seconds of messages (at most ``--messages``) are *scheduled* (message ``i`` at
``t0 + i / rate``), one message per request over keep-alive connections from ``--clients``
threads (at least 32 here, so a slow answer does not hold the next send back). Latencies are
taken from the **scheduled** send time, so a server that falls behind is charged for the queue
it builds (no coordinated omission):

- *ingest*: scheduled send → the 202;
- *ingest→delivered*: scheduled send → ``delivered_at`` of the delivery in the hub's database
  (the outcome recorded after the destination's answer; same machine clock).

The row's rate is what was delivered per second from the first scheduled send to the last
delivery; its baseline is the offered rate, so the ratio says whether the hub kept up. CPU
seconds per message of the hub process and of the double (``/proc``) cover the same window,
and the hub's CPU while idle is measured for five seconds before the first rate. The load
generator's own CPU per request is reported too: it stays well below the server's, so the
generator is not the limit (``wrk``/``hey`` from the distribution are closed-loop and time from
the actual send, which hides the queue; a Python generator scheduling sends is what measures
from the scheduled time).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from datetime import UTC, datetime

import httpx

from bench.processes import (
    DoubleWatch,
    MachineCpu,
    child,
    child_env,
    free_port,
    http_double,
    wait_http,
)
from bench.report import Row, percentile
from bench.scenarios.end_to_end import own_cpu_seconds
from bench.scenarios.http_ingest import _load
from bench.workload import (
    Options,
    documents,
    prepare_hub,
    scratch_folder,
    setting_variables,
)

SECONDS_PER_RATE = 10.0
MIN_CLIENTS = 32
IDLE_SECONDS = 5.0
DRAIN_TIMEOUT = 300.0


class _Schedule:
    """Send times ``t0 + i / rate`` (wall clock for the database, monotonic for sleeping),
    ``t0`` fixed by the first thread to ask."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._lock = threading.Lock()
        self._mono = 0.0
        self._wall = 0.0

    def at(self, i: int) -> tuple[float, float]:
        with self._lock:
            if not self._mono:
                self._mono, self._wall = time.monotonic() + 0.05, time.time() + 0.05
        offset = i / self._rate
        return self._mono + offset, self._wall + offset


def _offer(
    base: str, token: str, docs: list[bytes], rate: float, clients: int
) -> tuple[list[float], dict[str, float], int, float]:
    """POST ``docs`` at ``rate``; returns ingest latencies, message id → scheduled wall time,
    refusals, and the wall time of the first scheduled send."""
    schedule = _Schedule(rate)
    latencies: list[float] = []
    scheduled: dict[str, float] = {}
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}

    def send(c: httpx.Client, i: int) -> int:
        due, wall = schedule.at(i)
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        try:
            r = c.post("/api/v1/messages", content=docs[i], headers=headers)
        except httpx.TransportError:
            # uvicorn closes a keep-alive connection idle for 5 s (a slow start of 32 threads
            # on a busy machine): send again; the hub answers a repeat of the envelope's id
            # as the same message, and the latency still counts from the scheduled time.
            r = c.post("/api/v1/messages", content=docs[i], headers=headers)
        done = time.monotonic()
        if r.status_code != 202:
            return r.status_code
        with lock:
            latencies.append(done - due)
            scheduled[str(r.json()["id"])] = wall
        return 0

    _seconds, bad = _load(base, clients, len(docs), send)
    return latencies, scheduled, bad, schedule.at(0)[1]


def _delivered_at(database: str, ids: set[str]) -> dict[str, float]:
    """Message id → when its delivery was recorded delivered (wall seconds)."""
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT message_id, delivered_at FROM deliveries WHERE state = 'delivered'"
        ).fetchall()
    out: dict[str, float] = {}
    for message_id, delivered in rows:
        if message_id in ids:
            moment = datetime.fromisoformat(str(delivered)).replace(tzinfo=UTC)
            out[message_id] = max(out.get(message_id, 0.0), moment.timestamp())
    return out


def _ms(values: list[float], p: float) -> str:
    return f"{1e3 * percentile(values, p):,.0f}"


def run(options: Options) -> list[Row]:
    say = options.progress
    clients = max(MIN_CLIENTS, options.clients)
    rows: list[Row] = []
    with scratch_folder("open-loop") as folder, http_double(folder) as (double, url):
        prepared = prepare_hub(folder / "home", url)
        prepared.hub.close()
        database = prepared.hub.settings.database_url.removeprefix("sqlite:///")
        port = free_port()
        env = child_env(
            {
                "OMSORGSHUB_HOME": str(prepared.sandbox.home),
                "OMSORGSHUB_LOG_LEVEL": "WARNING",
                **setting_variables(),
            }
        )
        args = [sys.executable, "-m", "hub", "serve", "--host", "127.0.0.1", "--port", str(port)]
        watch = DoubleWatch(url)
        with child("hub", args, env, folder) as server:
            base = f"http://127.0.0.1:{port}"
            wait_http(server, base + "/healthz")
            warm = documents(100, seed=7, prefix="WARM")
            _offer(base, prepared.token, warm, 200.0, clients)  # schemas compiled, pools open
            watch.wait_for(len(warm), DRAIN_TIMEOUT)
            cpu0 = server.cpu_seconds()
            time.sleep(IDLE_SECONDS)
            idle = (server.cpu_seconds() - cpu0) / IDLE_SECONDS
            delivered_before = len(warm)
            for k, rate in enumerate(options.rates):
                n = max(10, min(options.messages, int(rate * SECONDS_PER_RATE)))
                docs = documents(n, seed=100 + k, prefix=f"OPEN{k}")
                say(f"open-loop: {n} messages offered at {rate:,.0f}/s from {clients} clients")
                cpu0, double0, mine0 = server.cpu_seconds(), double.cpu_seconds(), own_cpu_seconds()
                machine = MachineCpu()
                latencies, scheduled, bad, first = _offer(base, prepared.token, docs, rate, clients)
                if bad:
                    raise RuntimeError(f"the API refused {bad} messages:\n{server.tail()}")
                watch.wait_for(delivered_before + n, DRAIN_TIMEOUT)
                delivered_before += n
                hub_cpu = server.cpu_seconds() - cpu0
                double_cpu = double.cpu_seconds() - double0
                mine = own_cpu_seconds() - mine0
                busy = machine.share()
                done = _delivered_at(database, set(scheduled))
                through = [done[m] - scheduled[m] for m in scheduled if m in done]
                row = Row(f"open-loop@{rate:,.0f}/s", n, unit="msg")
                row.seconds = max(done.values()) - first
                row.baseline_seconds = n / rate  # the offered rate: the ratio says it kept up
                row.notes += [
                    f"ingest (scheduled send -> 202) p50/p99/p99.9 {_ms(latencies, 50)} / "
                    f"{_ms(latencies, 99)} / {_ms(latencies, 99.9)} ms; ingest->delivered "
                    f"{_ms(through, 50)} / {_ms(through, 99)} / {_ms(through, 99.9)} ms",
                    f"CPU per message: hub process {1e3 * hub_cpu / n:.2f} ms, double "
                    f"{1e3 * double_cpu / n:.2f} ms, load generator {1e3 * mine / n:.2f} ms; hub "
                    f"idle {idle:.1%} of a core; {busy}",
                ]
                rows.append(row)
        watch.close()
    return rows

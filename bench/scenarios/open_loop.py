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
and the hub's CPU while idle is measured for five seconds before the first rate; the hub's
resident memory (its process and children) is read before the first rate and after each.

The load generator is ``wrk`` driven by ``bench/wrk_schedule.lua`` (``bench/wrk_load.py``):
compiled, so it does not take the core the hub needs (the Python generator it replaced cost
3.6–4.1 ms of CPU per request, more than the hub); its CPU per request is reported. Without
``wrk`` on PATH the Python generator (``--clients`` threads of keep-alive httpx clients) runs
instead and the row says so.

After the offered rates, ``end-to-end-http`` sends ``--messages`` envelopes as fast as the
answers come (a closed loop over the same connections) and reports what was delivered per
second, against the goal of 1,000 msg/s through HTTP; its baseline is ``GET /healthz`` as
many times through the same wrk and connections (the server's HTTP path without the hub's
work).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import wrk_load
from bench.processes import (
    DoubleWatch,
    MachineCpu,
    child,
    child_env,
    free_port,
    http_double,
    own_cpu_seconds,
    tree_rss_mib,
    wait_http,
)
from bench.report import Row, percentile
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
CLOSED_LOOP_TARGET = 1_000.0  # msg/s end to end through HTTP (issue 16)


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


@dataclass(frozen=True)
class _Sent:
    latencies: list[float]  # scheduled send -> 202 (closed loop: actual send -> 202)
    sent: dict[str, float]  # the hub's message id -> scheduled (closed loop: actual) send
    refused: int
    first: float  # wall time of the first scheduled send
    generator_cpu: float
    generator: str


def _send(
    base: str, token: str, docs: list[bytes], rate: float, clients: int, folder: Path
) -> _Sent:
    """``docs`` at ``rate`` msg/s (0: a closed loop, wrk only) through wrk when installed, else
    through the Python generator."""
    if wrk_load.wrk_path() is None:
        mine0 = own_cpu_seconds()
        latencies, scheduled, bad, first = _offer(base, token, docs, rate, clients)
        generator = f"Python generator ({clients} threads of httpx; wrk is not installed)"
        return _Sent(latencies, scheduled, bad, first, own_cpu_seconds() - mine0, generator)
    o = wrk_load.offer(base, token, docs, rate, clients, folder, DRAIN_TIMEOUT)
    ok = [a for a in o.answers if a.status == 202]
    closed = rate <= 0
    return _Sent(
        [a.service if closed else a.latency for a in ok],
        {a.message_id: a.sent if closed else a.scheduled for a in ok},
        len(o.refused),
        o.first_scheduled,
        o.cpu_seconds,
        f"wrk, {o.connections} threads of one keep-alive connection each",
    )


def _healthz_seconds(base: str, n: int, clients: int, folder: Path) -> float:
    """``end-to-end-http``'s baseline: ``GET /healthz`` ``n`` times through the same wrk and
    connections, as fast as answered (the server's HTTP path without the hub's work)."""
    blanks = [b"-"] * n
    o = wrk_load.offer(base, "", blanks, 0.0, clients, folder, DRAIN_TIMEOUT, ("GET", "/healthz"))
    return max(a.answered for a in o.answers) - o.first_scheduled


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
            _send(
                base, prepared.token, warm, 200.0, clients, folder
            )  # schemas compiled, pools open
            watch.wait_for(len(warm), DRAIN_TIMEOUT)
            cpu0 = server.cpu_seconds()
            time.sleep(IDLE_SECONDS)
            idle = (server.cpu_seconds() - cpu0) / IDLE_SECONDS
            rss0 = tree_rss_mib(server.pid)
            delivered = len(warm)
            plan = [
                (
                    f"open-loop@{r:,.0f}/s",
                    r,
                    max(10, min(options.messages, int(r * SECONDS_PER_RATE))),
                )
                for r in options.rates
            ]
            if wrk_load.wrk_path() is not None:
                plan.append(("end-to-end-http", 0.0, options.messages))
            else:
                rows.append(Row("end-to-end-http", options.messages, skipped=wrk_load.MISSING))
            for k, (name, rate, n) in enumerate(plan):
                docs = documents(n, seed=100 + k, prefix=f"OPEN{k}")
                offered = f"offered at {rate:,.0f}/s" if rate else "as fast as answered"
                say(f"open-loop: {n} messages {offered}")
                cpu0, double0 = server.cpu_seconds(), double.cpu_seconds()
                machine = MachineCpu()
                sent = _send(base, prepared.token, docs, rate, clients, folder)
                if sent.refused:
                    raise RuntimeError(f"the API refused {sent.refused} messages:\n{server.tail()}")
                watch.wait_for(delivered + n, DRAIN_TIMEOUT)
                delivered += n
                hub_cpu = server.cpu_seconds() - cpu0
                double_cpu = double.cpu_seconds() - double0
                busy = machine.share()
                done = _delivered_at(database, set(sent.sent))
                through = [done[m] - sent.sent[m] for m in sent.sent if m in done]
                row = Row(name, n, unit="msg")
                row.seconds = max(done.values()) - sent.first
                if rate:
                    row.baseline_seconds = n / rate  # the offered rate: the ratio says it kept up
                    start = "scheduled send"
                else:
                    row.target_rate = CLOSED_LOOP_TARGET
                    row.baseline_seconds = _healthz_seconds(base, n, clients, folder)
                    start = "actual send"
                row.notes += [
                    f"ingest ({start} -> 202) p50/p99/p99.9 {_ms(sent.latencies, 50)} / "
                    f"{_ms(sent.latencies, 99)} / {_ms(sent.latencies, 99.9)} ms; "
                    f"ingest->delivered {_ms(through, 50)} / {_ms(through, 99)} / "
                    f"{_ms(through, 99.9)} ms",
                    f"CPU per message: hub process {1e3 * hub_cpu / n:.2f} ms, double "
                    f"{1e3 * double_cpu / n:.2f} ms, load generator "
                    f"{1e3 * sent.generator_cpu / n:.2f} ms; hub idle {idle:.1%} of a core; {busy}",
                    f"load: {sent.generator}; hub resident memory after the rate "
                    f"{tree_rss_mib(server.pid):.0f} MiB (before the first rate {rss0:.0f} MiB)",
                ]
                rows.append(row)
        watch.close()
    return rows

"""``paced``: the embedded hub's work per message at a moderate, fixed offered rate.

The hub as ``omsorgshub serve`` runs it (``hub.start()``: relay and delivery threads, SQLite,
default settings) in this process, the HTTP double in its own. Eight sender threads call
``hub.ingestor.ingest`` (one message per call, as the API does) at scheduled times, 100 msg/s
offered, for ten seconds (at most ``--messages``); the clock stops when the double has every
message. Counted on the hub's engine while it runs: write transactions (``BEGIN IMMEDIATE``)
and SQL statements per message, this process's CPU seconds per message, and how much of that
CPU the delivery threads spent (read per thread from ``/proc``: the delivery adapter's share,
apart from the senders and the relay, issue 16's HTTP client change). These counts are
what the relay's gathering and group commit's wait change (issue 16), and unlike a rate they
hardly depend on how busy the machine is. Baseline: the offered rate (the ratio says whether
the hub kept up).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

import audit.head
import audit.trail
from bench.processes import DoubleWatch, http_double, own_cpu_seconds
from bench.report import Row
from bench.scenarios.end_to_end import timeout_for
from bench.workload import SENDER, Options, documents, prepare_hub, scratch_folder

RATE = 100.0
SENDERS = 8
SECONDS = 10.0


class _Statements:
    """Counts statements and write transactions on an engine."""

    def __init__(self) -> None:
        self.statements = 0
        self.writes = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        self.statements += 1  # under the engine's single-writer lock or a reader's own
        if statement.startswith("BEGIN IMMEDIATE"):
            self.writes += 1

    @contextmanager
    def audit_statements(self) -> Iterator[None]:
        """Count the audit trail's append statements too: they run on the driver's own cursor
        (``audit/driver.py``), past SQLAlchemy's events. Each call is one statement, as an
        ``executemany`` through SQLAlchemy counts as one."""
        names = [(audit.head, "execute"), (audit.head, "fetch_one"), (audit.trail, "execute_many")]
        patched = [(module, name) for module, name in names if hasattr(module, name)]
        saved = [getattr(module, name) for module, name in patched]

        def counted(original: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any) -> Any:
                self.statements += 1  # under the writer lock: the append runs in a write
                return original(*args)

            return call

        for (module, name), original in zip(patched, saved, strict=True):
            setattr(module, name, counted(original))
        try:
            yield
        finally:
            for (module, name), original in zip(patched, saved, strict=True):
                setattr(module, name, original)


def delivery_thread_cpu() -> float:
    """CPU seconds so far of the hub's delivery threads (``deliver_N``), read from /proc: what
    the delivery adapter costs, apart from the senders' and the relay's work."""
    total = 0.0
    for thread in threading.enumerate():
        if thread.name.startswith("deliver") and thread.native_id is not None:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state is field 3
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


def _send_paced(ingest: Any, docs: list[bytes]) -> None:
    counter = iter(range(len(docs)))
    lock = threading.Lock()
    start = time.monotonic() + 0.05

    def sender() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            pause = start + i / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            ingest(SENDER, docs[i])

    threads = [threading.Thread(target=sender, name=f"bench-sender-{k}") for k in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run(options: Options) -> list[Row]:
    n = max(10, min(options.messages, int(RATE * SECONDS)))
    row = Row(f"paced@{RATE:,.0f}/s", n)
    with scratch_folder("paced") as folder, http_double(folder) as (_double, url):
        prepared = prepare_hub(folder / "home", url)
        hub = prepared.hub
        watch = DoubleWatch(url)
        counts = _Statements()
        stack = ExitStack()
        try:
            event.listen(hub.engine, "before_cursor_execute", counts)
            stack.enter_context(counts.audit_statements())
            hub.start()
            warm = documents(50, seed=9, prefix="WARM")
            hub.ingestor.ingest_many(SENDER, warm)
            watch.wait_for(len(warm), timeout_for(len(warm)))
            options.progress(f"paced: {n} messages offered at {RATE:,.0f}/s by {SENDERS} threads")
            docs = documents(n, seed=3, prefix="PACED")
            writes, statements, cpu0 = counts.writes, counts.statements, own_cpu_seconds()
            delivering0 = delivery_thread_cpu()
            began = time.monotonic()
            _send_paced(hub.ingestor.ingest, docs)
            row.seconds = watch.wait_for(len(warm) + n, timeout_for(n)) - began
            cpu = own_cpu_seconds() - cpu0
            delivering = delivery_thread_cpu() - delivering0
            row.baseline_seconds = n / RATE
            row.notes.append(
                f"per message: {(counts.writes - writes) / n:.2f} write transactions, "
                f"{(counts.statements - statements) / n:.1f} SQL statements, "
                f"{1e3 * cpu / n:.2f} ms CPU of this process (senders, relay, delivery threads), "
                f"{1e3 * delivering / n:.2f} ms of it in the delivery threads"
            )
        finally:
            watch.close()
            hub.close()
            stack.close()
    return [row]

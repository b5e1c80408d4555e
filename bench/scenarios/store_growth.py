"""``store-growth`` (``python -m bench --scale``): ingest rate and memory as the store grows.

Issue 16: ingest at 1 M stored messages should keep at least 90 % of its rate at 10 k, and the
process's memory should stay flat within 10 %. Not part of the default run (the fill to 1 M takes
a quarter of an hour or more on 2 cores); ``--scale-points`` chooses the stored-message counts
(default 10,000, 100,000 and 1,000,000; ``--scale-points 2000,20000`` is a quick check).

One embedded hub (SQLite, guards on, the demo's agreements and routes, as ``pipeline`` builds
it) is filled by real ingest: ``hub.ingestor.ingest_many`` in batches of 100, the same path and
the same checks as ``pipeline``, with fictional referrals made ``FILL_CHUNK`` at a time (the
fill never holds more documents than that). At each point, ``SAMPLES`` samples of ``--messages``
messages each (made before the clock starts) are ingested the same way and timed; they stay in
the store, so the next point's fill counts them.

Rows, one per point, ``store-growth@<count>``: the median sample's rate. Baseline: the rate at
the first point *measured beside it*: a second hub of the same set-up, fresh at each point and
filled to the first point's count, takes a sample in turn with the grown one (the order
reversed every other sample, the median of its ``SAMPLES``), so a busier machine moves both and
the ratio is "rate at N / rate at the first point" (target 0.9; at the first point it shows the
noise). The notes also give the ratio to the first point's own median, measured minutes
earlier. Notes: every sample's rate, the resident memory of this process after
``gc.collect()`` (``VmRSS``, read before the second hub opens) and its peak so far (``VmHWM``)
with the ratio to the first point (goal: at most 1.10), the database file size (with its WAL),
the fill's rate, the load average, and the bytes each hub's samples read and wrote per message
(``rchar``/``wchar`` of ``/proc/self/io``: SQLite's reads of pages its cache lacks, from the OS's
file cache or the disk, and its writes to the WAL and the database file). The bytes tell apart
what the rate only sums up: how many index pages a batch touches at that store size,
whatever else the machine is doing.

Deliveries: nothing delivers during the fill or the samples (the hub is not started, as in
``pipeline``), so every delivery row stays ``pending``. Ingest writes delivery rows but never
reads them, so its cost depends on how many rows and index entries there are, not on their
state; what pending rows would distort is the relay's claim query, which does not run here.
Delivering the fill (relay and delivery threads to the HTTP double) would cap the fill at the
end-to-end rate (about 300-450 msg/s on 2 cores, over 40 minutes to 1 M) and mix delivery CPU
into the ingest samples. What the store lacks compared with production is one ``delivered``
audit entry per delivery: its audit table holds half the entries a delivered store would.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import MachineCpu, proc_numbers
from bench.report import Row
from bench.workload import INGEST_BATCH, Options, documents, ingest_all, prepare_hub, scratch_folder
from hub.bootstrap import Hub

NAME = "store-growth"
SAMPLES = 3  # timed samples per point: their median is the row, their spread in the notes
TARGET_RATIO = 0.9  # ingest at the last point vs the first
MEMORY_GOAL = 1.10  # resident memory at the last point vs the first
FILL_CHUNK = 10_000  # documents made at a time during the fill
UNUSED_URL = "http://127.0.0.1:9/messages"  # nothing is delivered in this scenario


def label(count: int) -> str:
    """``10000`` → ``10k``, ``1000000`` → ``1M``, ``2500`` → ``2500``."""
    if count >= 1_000_000 and count % 1_000_000 == 0:
        return f"{count // 1_000_000}M"
    if count >= 1_000 and count % 1_000 == 0:
        return f"{count // 1_000}k"
    return str(count)


def io_bytes() -> tuple[int, int]:
    """(rchar, wchar) of this process from /proc/self/io: bytes read and written through
    system calls, served by the OS's file cache or not ((0, 0) elsewhere)."""
    io = proc_numbers("/proc/self/io", ["rchar", "wchar"])
    return io["rchar"], io["wchar"]


def memory_kib() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB from /proc/self/status ((0, 0) elsewhere)."""
    status = proc_numbers("/proc/self/status", ["VmRSS", "VmHWM"])
    return status["VmRSS"], status["VmHWM"]


def database_bytes(hub: Hub) -> int:
    """The SQLite database file plus its write-ahead log (0 for a server database)."""
    path = hub.engine.url.database
    if hub.engine.dialect.name != "sqlite" or not path:
        return 0
    files = (Path(path), Path(f"{path}-wal"))
    return sum(f.stat().st_size for f in files if f.exists())


@dataclass
class Point:
    """What was measured with ``stored`` messages in the store."""

    stored: int
    seconds: list[float] = field(default_factory=list)  # per sample of ``size`` messages
    reference_seconds: list[float] = field(default_factory=list)  # the fresh hub's samples
    io: list[int] = field(default_factory=lambda: [0, 0])  # bytes read, written by the samples
    reference_io: list[int] = field(default_factory=lambda: [0, 0])  # by the fresh hub's
    size: int = 0
    rss_kib: int = 0
    hwm_kib: int = 0
    database_bytes: int = 0
    machine: str = ""
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    def sample_rates(self, seconds: list[float]) -> str:
        return ", ".join(f"{self.size / s:,.0f}" for s in seconds)

    def io_per_message(self, io: list[int]) -> str:
        count = self.size * SAMPLES
        return f"read {io[0] / count / 1024:,.1f} KiB, wrote {io[1] / count / 1024:,.1f} KiB"


class Fill:
    """Ingests fictional referrals until the store holds a given count; says how it goes."""

    def __init__(self, hub: Hub, say: Callable[[str], None], last: int) -> None:
        self._hub = hub
        self._say = say
        self._last = last
        self.stored = 0  # messages in the store (fill and samples)
        self.filled = 0  # of which by the fill
        self.seconds = 0.0  # the fill's own time (documents made, and ingest)
        self._chunks = 0

    def up_to(self, count: int) -> None:
        while self.stored < count:
            size = min(FILL_CHUNK, count - self.stored)
            began = time.perf_counter()
            self._chunks += 1
            docs = documents(size, seed=self._chunks, prefix=f"FILL{self._chunks:04d}")
            ingest_all(self._hub, docs)
            self.seconds += time.perf_counter() - began
            self.stored += size
            self.filled += size
            self._say(f"  {NAME}: {self.stored:,} stored; {self._eta()}")

    def rate(self) -> float:
        return self.filled / self.seconds if self.seconds else 0.0

    def _eta(self) -> str:
        rate = self.rate()
        left = (self._last - self.stored) / rate if rate else 0.0
        return f"fill {rate:,.0f} msg/s, about {left / 60:.1f} min to {self._last:,}"


def timed(hub: Hub, docs: Sequence[bytes], io: list[int]) -> float:
    """Seconds to ingest ``docs``; adds the bytes read and written meanwhile to ``io``."""
    read, written = io_bytes()
    began = time.perf_counter()
    ingest_all(hub, docs)
    took = time.perf_counter() - began
    read_after, written_after = io_bytes()
    io[0] += read_after - read
    io[1] += written_after - written
    return took


def measure(hub: Hub, fill: Fill, size: int, reference_home: Path, first: int) -> Point:
    """Memory and database size with ``fill.stored`` messages, then ``SAMPLES`` timed samples
    taken in turn with a fresh hub in ``reference_home`` holding ``first`` messages."""
    point = Point(fill.stored, size=size)
    gc.collect()
    point.rss_kib, point.hwm_kib = memory_kib()
    point.database_bytes = database_bytes(hub)
    reference = prepare_hub(reference_home, UNUSED_URL).hub
    try:
        Fill(reference, lambda _text: None, first).up_to(first)
        machine = MachineCpu()
        for n in range(SAMPLES):
            grown = documents(size, seed=10_000 + fill.stored, prefix=f"S{fill.stored}")
            fresh = documents(size, seed=20_000 + n, prefix=f"R{n}")
            if n % 2:
                point.reference_seconds.append(timed(reference, fresh, point.reference_io))
                point.seconds.append(timed(hub, grown, point.io))
            else:
                point.seconds.append(timed(hub, grown, point.io))
                point.reference_seconds.append(timed(reference, fresh, point.reference_io))
            fill.stored += size
        point.machine = machine.share()
    finally:
        reference.close()
    shutil.rmtree(reference_home)
    point.load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return point


def rows_of(points: list[Point], fill: Fill) -> list[Row]:
    first = points[0]
    rows = []
    for point in points:
        row = Row(
            f"{NAME}@{label(point.stored)}",
            point.size,
            seconds=point.median_seconds,
            baseline_seconds=statistics.median(point.reference_seconds),
            target_ratio=None if point is first else TARGET_RATIO,
        )
        growth = point.rss_kib / first.rss_kib if first.rss_kib else 0.0
        verdict = "within" if growth <= MEMORY_GOAL else "ABOVE"
        row.notes += [
            f"{point.stored:,} messages stored; {SAMPLES} samples of {point.size:,} "
            f"(ingest_many, batches of {INGEST_BATCH}): {point.sample_rates(point.seconds)} "
            f"msg/s; beside them, a fresh hub holding {first.stored:,}: "
            f"{point.sample_rates(point.reference_seconds)} msg/s; "
            f"{first.median_seconds / point.median_seconds:.2f}x the median at "
            f"{first.stored:,} measured then",
            f"memory after gc: RSS {point.rss_kib / 1024:,.1f} MiB ({growth:.2f}x the first "
            f"point's, {verdict} the {MEMORY_GOAL:.2f}x goal), peak (VmHWM) "
            f"{point.hwm_kib / 1024:,.1f} MiB; database with WAL "
            f"{point.database_bytes / 2**20:,.0f} MiB",
            f"I/O per message: {point.io_per_message(point.io)}; the fresh hub: "
            f"{point.io_per_message(point.reference_io)}",
            f"{point.machine}; load average {', '.join(f'{x:.2f}' for x in point.load)}",
        ]
        rows.append(row)
    rows[0].notes.append(
        f"baseline of every row: the median rate of a fresh hub holding {first.stored:,}, "
        f"sampled in turn with the grown one; deliveries stay pending (nothing delivers); the "
        f"fill: {fill.filled:,} messages at "
        f"{fill.rate():,.0f} msg/s in {fill.seconds / 60:.1f} min"
    )
    return rows


def run(options: Options) -> list[Row]:
    say = options.progress
    points = sorted(options.scale_points)
    fill_to = points[-1]
    measured: list[Point] = []
    with scratch_folder(NAME) as folder:
        prepared = prepare_hub(folder / "home", UNUSED_URL)
        hub = prepared.hub
        try:
            fill = Fill(hub, say, fill_to)
            for count in points:
                say(f"{NAME}: filling the store to {count:,} messages")
                fill.up_to(count)
                say(
                    f"{NAME}: {SAMPLES} samples of {options.messages:,} at {fill.stored:,}, "
                    f"in turn with a fresh hub filled to {points[0]:,}"
                )
                reference_home = folder / f"reference-{count}"
                measured.append(measure(hub, fill, options.messages, reference_home, points[0]))
        finally:
            hub.close()
    return rows_of(measured, fill)

"""Verifying a long stored trail in parallel: one seq range per process, joined in order.

``hashlib`` holds the GIL for inputs as small as an entry, so threads do not help; processes
do. Each range is read by its own process with its own database connection (SQLite opened
read-only, PostgreSQL through a server-side cursor), walked from its first entry on the
assumption that this entry links to its predecessor, and handed back with that first entry.
This process reads and walks the last range meanwhile (in the caller's transaction, so the
tail is read exactly as a single walk reads it), then walks each range's first entry with the
real state, which is the single walk's own check at that entry: the link between ranges, a
gap, a checkpoint there. A range whose first entry passes continues from the very state the
single walk would have, so its first problem, or its end state, is the single walk's too.

Processes are forked, which costs ~10 ms each, and only from a process running no other thread
(the command line; a serving hub's console walks in one process: a forked child could inherit
a lock another thread holds, and spawning re-imports the whole program, over a second). A
trail shorter than ``PARALLEL_FROM`` entries is walked in one process too.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection

from audit.chain import ChainBrokenError, Signatures, Walk, walk
from audit.entry import ENTRY_FIELDS, EntryRow, canonical_bytes

# Measured on 2 (shared) cores, one process against two: 20k entries 90 ms either way, 45k
# 190 ms against 125 ms, 86k 540 ms against 380 ms.
PARALLEL_FROM = 30_000
_FETCH_ROWS = 500
_SELECT = "SELECT {columns} FROM audit_entries WHERE seq > {lo} AND seq <= {hi} ORDER BY seq"


@dataclass(frozen=True)
class Source:
    """Where another process reads the entries: a SQLite file, or a PostgreSQL conninfo."""

    dialect: str
    address: str

    @classmethod
    def of(cls, conn: Connection) -> Source | None:
        """The database ``conn`` reads, as another process can open it (None: it cannot)."""
        url = conn.engine.url
        if url.get_backend_name() == "sqlite":
            if not url.database or url.database == ":memory:" or url.query:
                return None
            return cls("sqlite", str(Path(url.database).resolve()))
        if url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg":
            plain = url.set(drivername="postgresql")
            return cls("postgresql", plain.render_as_string(hide_password=False))
        return None

    def rows(self, lo: int, hi: int) -> Iterator[EntryRow]:
        """The entries with ``lo < seq <= hi``, in seq order, streamed."""
        sql = _SELECT.format(columns=", ".join(ENTRY_FIELDS), lo=int(lo), hi=int(hi))
        if self.dialect == "sqlite":
            db = sqlite3.connect(f"file:{quote(self.address)}?mode=ro", uri=True)
            try:
                cursor = db.execute(sql)
                yield from itertools.chain.from_iterable(
                    iter(lambda: cursor.fetchmany(_FETCH_ROWS), [])
                )
            finally:
                db.close()
            return
        import psycopg  # only a worker for a PostgreSQL hub needs the driver

        with psycopg.connect(self.address) as pg, pg.cursor(name="audit_segment") as named:
            named.execute(sql)  # built from integers only
            while rows := named.fetchmany(_FETCH_ROWS * 10):  # a round trip per fetch
                yield from rows


@dataclass(frozen=True)
class _Piece:
    """One range walked: its first entry (None: the range was empty), the walk's state after
    it, and the problem it stopped at (seq, text, range) or None."""

    first: EntryRow | None
    state: Walk
    stopped: tuple[int, str, tuple[int, int] | None] | None


def _walk_rows(rows: Iterator[EntryRow], sigs: Signatures) -> _Piece:
    first = next(rows, None)
    if first is None:
        return _Piece(None, Walk(), None)
    seq, linked = first[0], first[13]
    state = Walk(
        expected=seq + 1,
        prev=hashlib.sha256(canonical_bytes(linked, first)).hexdigest(),
        prev2=linked,
        last_ok_cp=sigs.last_ok_after(seq),
    )
    try:
        walk(rows, state, sigs)
    except ChainBrokenError as bad:  # the exception itself does not pickle
        return _Piece(first, state, (bad.seq, bad.problem, bad.bad_range))
    return _Piece(first, state, None)


def _walk_range(source: Source, lo: int, hi: int, sigs: Signatures) -> _Piece:
    """In a worker process: walk the entries ``lo < seq <= hi``."""
    return _walk_rows(source.rows(lo, hi), sigs)


def usable_cpus() -> int:
    """The processes worth starting: the CPUs this process may run on, or 1 where a process
    cannot be forked safely (a process running threads: a child could inherit a lock another
    thread holds) or cheaply (spawning re-imports the program, measured at over a second)."""
    if threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def walk_in_parallel(
    source: Source,
    sigs: Signatures,
    state: Walk,
    rows_after: Callable[[int], Iterator[EntryRow]],
    last: int,
    processes: int,
) -> None:
    """Walk every entry as ``chain.walk`` would from ``state`` (a fresh one), in ``processes``
    ranges up to ``last`` (the signed head's seq), the last range, open-ended, read here
    through ``rows_after``."""
    bounds = [last * k // processes for k in range(processes)]
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes - 1, mp_context=fork) as pool:
        futures = [
            pool.submit(_walk_range, source, lo, hi, sigs) for lo, hi in itertools.pairwise(bounds)
        ]
        mine = _walk_rows(rows_after(bounds[-1]), sigs)
        pieces = [f.result() for f in futures] + [mine]
    for piece in pieces:
        if piece.first is None:
            continue
        walk([piece.first], state, sigs)  # the single walk's check where this range begins
        overdue = state.overdue
        state.expected, state.prev, state.prev2 = (
            piece.state.expected,
            piece.state.prev,
            piece.state.prev2,
        )
        state.last_ok_cp = piece.state.last_ok_cp
        state.overdue = overdue or piece.state.overdue
        if piece.stopped is not None:
            raise ChainBrokenError(*piece.stopped)

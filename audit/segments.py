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

A worker is a fresh interpreter that imports this module alone (~50 ms to start), not a fork:
a forked child would inherit this process's SQLite connections and their lock state (SQLite
warns against using such state across ``fork``) and any lock another thread holds (a serving
hub's console), and multiprocessing's spawn re-imports the whole program (over a second
measured). A trail shorter than ``PARALLEL_FROM`` entries is walked in one process.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from audit.chain import ChainBrokenError, Signatures, Walk, walk
from audit.entry import ENTRY_FIELDS, EntryRow, canonical_bytes

if TYPE_CHECKING:  # a worker imports no SQLAlchemy: it starts in ~30 ms
    from sqlalchemy import Connection

_HOME = Path(__file__).resolve().parent.parent  # the folder that holds the audit package

# Measured on 2 shared cores (another process busy), one process against two: 20k entries
# 70-90 ms against 80-150 ms, 45k 180-250 ms against 140-240 ms, 86k 330-430 ms against
# 230-400 ms: below this the start of a worker and the contention eat what it saves.
PARALLEL_FROM = 50_000
_HEAD_START = 10_000  # entries this process walks while a worker starts (~50 ms)
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
    """The CPUs this process may run on: as many ranges are worth walking at once."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _start_worker() -> subprocess.Popen[bytes]:
    # A fresh interpreter that imports this module alone (python -I: no user site, no
    # environment), with this package's folder on its path.
    code = f"import sys; sys.path.insert(0, {str(_HOME)!r}); import audit.segments as s; s.serve()"
    return subprocess.Popen(
        [sys.executable, "-I", "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # a worker that fails is walked again here, in one process
    )


def serve() -> None:
    """A worker's whole life: one range from stdin, its ``_Piece`` to stdout (both pickled:
    the parent wrote the one and reads the other, no one else)."""
    source, lo, hi, sigs = pickle.load(sys.stdin.buffer)  # noqa: S301  # from our parent
    pickle.dump(_walk_range(source, lo, hi, sigs), sys.stdout.buffer)
    sys.stdout.buffer.flush()


def _result(worker: subprocess.Popen[bytes]) -> _Piece:
    assert worker.stdout is not None
    out = worker.stdout.read()
    if worker.wait() != 0:
        raise RuntimeError(f"an audit verification process exited with {worker.returncode}")
    piece = pickle.loads(out)  # noqa: S301  # from the child this process started
    if not isinstance(piece, _Piece):
        raise TypeError("an audit verification process answered no range")
    return piece


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
    # The workers start ~50 ms late: this process walks that many more entries meanwhile.
    share = max(0, last - _HEAD_START) // processes
    bounds = [share * k for k in range(processes)]
    workers = [_start_worker() for _ in bounds[1:]]
    try:
        for worker, (lo, hi) in zip(workers, itertools.pairwise(bounds), strict=True):
            assert worker.stdin is not None
            pickle.dump((source, lo, hi, sigs), worker.stdin)
            worker.stdin.close()
        mine = _walk_rows(rows_after(bounds[-1]), sigs)
        pieces = [_result(worker) for worker in workers] + [mine]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
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

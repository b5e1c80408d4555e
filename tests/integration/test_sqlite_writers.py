"""Writers of several processes on one SQLite database take turns on its writer lock file
(``hub.storage.engine``): a write transaction holds the file's ``flock`` until it commits or
rolls back, and two processes writing at once lose nothing and never meet "database is
locked"."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from pathlib import Path

from sqlalchemy import text

from hub.storage.engine import make_engine

WRITES = 300


def _held_elsewhere(lock_file: Path) -> bool:
    """Another open file (as another process would have) cannot take the lock now."""
    fd = os.open(lock_file, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _write_rows(url: str, first: int) -> None:
    """In a process of its own: WRITES transactions of one row each."""
    engine = make_engine(url)
    for n in range(first, first + WRITES):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (n) VALUES (:n)"), {"n": n})
    engine.dispose()


def test_a_write_transaction_holds_the_lock_file_until_it_ends(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    lock_file = tmp_path / "hub.db-writelock"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
        assert _held_elsewhere(lock_file)
    assert not _held_elsewhere(lock_file)
    with engine.connect() as conn, conn.begin() as tx:
        conn.execute(text("INSERT INTO t (n) VALUES (1)"))
        assert _held_elsewhere(lock_file)
        tx.rollback()
    assert not _held_elsewhere(lock_file)
    with engine.connect() as conn:  # a reader takes no lock
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    engine.dispose()
    assert not _held_elsewhere(lock_file)


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY)"))
    spawn = multiprocessing.get_context("spawn")
    others = [spawn.Process(target=_write_rows, args=(url, k * WRITES)) for k in (1, 2)]
    for p in others:
        p.start()
    _write_rows(url, 0)
    for p in others:
        p.join(120)
        assert p.exitcode == 0
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all()
    assert stored == list(range(3 * WRITES))
    engine.dispose()

"""Engine creation for the two supported databases.

SQLite (the embedded default): WAL mode so readers never block the writer, ``synchronous=FULL``
so a committed message survives power loss, and every transaction opened with ``BEGIN
IMMEDIATE``: pysqlite's own deferred BEGIN lets two writers both read and then deadlock on the
upgrade to a write lock ("database is locked"); taking the write lock up front turns that into
an orderly wait. This is SQLAlchemy's documented recipe for pysqlite.

Writers also queue on a lock before ``BEGIN IMMEDIATE``: a Python lock among the threads of a
process, then an exclusive ``flock`` on ``<database>-writelock`` among processes (the serving
process and its delivery process, a CLI command beside ``serve``). SQLite's busy handler polls
with sleeps of up to 100 ms, so threads that left the waiting to it lost most of their time
asleep (measured: 4 delivery threads spent 9.5 s waiting for 2,000 deliveries); a lock hands
the database over the moment the previous writer commits. The lock file holds nothing; a
writer that dies loses its ``flock`` with its process. ``busy_timeout`` stays as the fallback
for a writer that does not take the lock (an older hub, the ``sqlite3`` shell).

The page cache is the ``sqlite_cache_mib`` setting, per connection. SQLite's default (about
2 MiB) holds the upper levels of the indexes but few of their leaves once the store is large;
what it misses is read back from the OS's file cache at each write, and what it dirties is
written to the WAL at each commit. Message and delivery ids are time-ordered
(``hub.ingest.ids``) so that most of a batch's index entries share a few leaves.

PostgreSQL through psycopg 3, with a connection pool sized for the API and worker threads.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

READ_ONLY = "omsorgshub_read_only"


def reader(engine: Engine) -> Engine:
    """The same engine (and pool) for read-only transactions: no write lock taken on SQLite."""
    return engine.execution_options(**{READ_ONLY: True})


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10, sqlite_cache_mib: int | None = None) -> Engine:
    """An engine for ``url``. On SQLite each connection caches ``sqlite_cache_mib`` MiB of
    pages (the hub's setting); None keeps SQLite's default (about 2 MiB), for short-lived tools
    such as migrations."""
    if is_sqlite(url):
        return _sqlite_engine(url, sqlite_cache_mib)
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, future=True
    )


def _sqlite_engine(url: str, cache_mib: int | None) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level; we issue BEGIN ourselves (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if cache_mib is not None:
            # Negative: a size in KiB, not a page count. Each connection has a cache of its own.
            cur.execute(f"PRAGMA cache_size=-{int(cache_mib) * 1024}")
        cur.close()

    writer = _WriterLock(make_url(url).database or "")
    holders: set[int] = set()  # DBAPI connections that hold ``writer``

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers (``reader(engine)``) begin deferred and never wait for the writer in WAL mode.
        if conn.get_execution_options().get(READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        writer.acquire()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        holders.add(id(conn.connection.dbapi_connection))

    @event.listens_for(engine, "engine_disposed")
    def _on_dispose(_engine: Any) -> None:
        writer.close()

    # Released only after the database has committed or rolled back (the Connection's own
    # "commit" event fires before), so the next writer never meets a locked database.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def _release_after(end: Callable[[Any], None]) -> Callable[[Any], None]:
        def wrapped(dbapi_connection: Any) -> None:
            try:
                end(dbapi_connection)
            finally:
                # SQLAlchemy passes its pool's proxy; the set holds the raw connection's id.
                key = id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))
                if key in holders:
                    holders.discard(key)
                    writer.release()

        return wrapped

    dialect.do_commit = _release_after(do_commit)  # type: ignore[method-assign,assignment]
    dialect.do_rollback = _release_after(do_rollback)  # type: ignore[method-assign,assignment]
    return engine


class _WriterLock:
    """One writer at a time: among threads (a ``threading.Lock``), then among processes (an
    exclusive ``flock`` on a file beside the database; none for an in-memory database)."""

    def __init__(self, database: str) -> None:
        self._threads = threading.Lock()
        memory = database in ("", ":memory:") or database.startswith("file::memory:")
        self._path = (
            None if memory else Path(database).with_name(Path(database).name + "-writelock")
        )
        self._fd: int | None = None
        self._pid = 0  # the process that opened ``_fd`` (a forked child opens its own)
        self._closer: weakref.finalize[Any, Any] | None = None

    def acquire(self) -> None:
        self._threads.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():
            # A forked child shares the parent's open file, and with it the parent's lock.
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                # A folder the hub cannot create files in: SQLite's own busy handler still
                # serializes the processes, only more slowly; the write itself decides.
                log.warning(
                    "no writer lock file %s (%s): processes wait on SQLite", self._path, exc
                )
                self._path = None
                return None
            self._pid = os.getpid()
            # Closed once: by ``close()`` or when the engine is gone, never twice (the number
            # could belong to another file by then).
            self._closer = weakref.finalize(self, os.close, self._fd)
        return self._fd

    def close(self) -> None:
        """Close the lock file unless a writer holds it (``engine.dispose()``; it is opened
        again by the next writer)."""
        if not self._threads.acquire(blocking=False):
            return
        try:
            if self._closer is not None and self._pid == os.getpid():
                self._closer()
            self._fd, self._closer = None, None
        finally:
            self._threads.release()

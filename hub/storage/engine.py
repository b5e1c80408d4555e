"""Engine creation for the two supported databases.

SQLite (the embedded default): WAL mode so readers never block the writer, ``synchronous=FULL``
so a committed message survives power loss, and every transaction opened with ``BEGIN
IMMEDIATE``: pysqlite's own deferred BEGIN lets two writers both read and then deadlock on the
upgrade to a write lock ("database is locked"); taking the write lock up front turns that into
an orderly wait. This is SQLAlchemy's documented recipe for pysqlite.

Writers of one process also queue on a Python lock before ``BEGIN IMMEDIATE``. SQLite's busy
handler polls with sleeps of up to 100 ms, so threads that left the waiting to it lost most of
their time asleep (measured: 4 delivery threads spent 9.5 s waiting for 2,000 deliveries); a
lock hands the database over the moment the previous writer commits. Other processes (a CLI
command beside ``serve``) still wait through ``busy_timeout``.

PostgreSQL through psycopg 3, with a connection pool sized for the API and worker threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

READ_ONLY = "omsorgshub_read_only"


def reader(engine: Engine) -> Engine:
    """The same engine (and pool) for read-only transactions: no write lock taken on SQLite."""
    return engine.execution_options(**{READ_ONLY: True})


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if is_sqlite(url):
        return _sqlite_engine(url)
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, future=True
    )


def _sqlite_engine(url: str) -> Engine:
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
        cur.close()

    writer = threading.Lock()
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

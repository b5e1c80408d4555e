"""Engine creation for the two supported databases.

SQLite (the embedded default): WAL mode so readers never block the writer, ``synchronous=FULL``
so a committed message survives power loss, and every transaction opened with ``BEGIN
IMMEDIATE``: pysqlite's own deferred BEGIN lets two writers both read and then deadlock on the
upgrade to a write lock ("database is locked"); taking the write lock up front turns that into
an orderly wait (``busy_timeout``). This is SQLAlchemy's documented recipe for pysqlite.

PostgreSQL through psycopg 3, with a connection pool sized for the API and worker threads.
"""

from __future__ import annotations

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

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers (``reader(engine)``) begin deferred and never wait for the writer in WAL mode.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine

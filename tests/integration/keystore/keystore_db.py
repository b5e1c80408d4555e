"""The key store's test databases and the pipeline's way of storing a sealed message.

Shared by the ``test_keystore*`` files. PostgreSQL tests use the ``postgres_url`` fixture of
tests/conftest.py (a schema of their own; ``tests/servers.py`` decides skip or fail); SQLite
tests a database file of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, insert, select

from hub.keys import crypto
from hub.keys.store import KeyStore, LocalMasterKey
from hub.storage.tables import district_keys, messages

MASTER = LocalMasterKey(bytes(range(32)))
DISTRICT = "Farsta"
TYPE = "client-summary"


def sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite+pysqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin below decide
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def engine_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A key store database of ``kind`` ("sqlite" or "postgresql") with its two tables; on
    PostgreSQL, the shared ``postgres_url`` fixture's schema of its own (or a skip)."""
    if kind == "sqlite":
        engine = sqlite_engine(tmp_path / "hub.db")
    else:
        engine = create_engine(request.getfixturevalue("postgres_url"))
    district_keys.metadata.create_all(engine, tables=[district_keys, messages])
    yield engine
    engine.dispose()


def store_message(
    conn: Connection, keys: KeyStore, message_id: str, body: bytes, district: str = DISTRICT
) -> int:
    """Seal ``body`` under the district's current key and insert it as the pipeline would."""
    key = keys.current(conn, district)
    aad = crypto.payload_aad(message_id, district, TYPE, key.version)
    conn.execute(
        insert(messages).values(
            id=message_id,
            sender="paraplyet",
            message_type=TYPE,
            version="1.0",
            district=district,
            purpose="contact-centre",
            idempotency_key=message_id,
            content_digest="0" * 64,
            categories="decisions",
            key_version=key.version,
            ciphertext=crypto.seal(key.key, body, aad),
            size=len(body),
            received_at=datetime.now(UTC),
        )
    )
    return key.version


def read_message(conn: Connection, keys: KeyStore, message_id: str) -> bytes:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
    key = keys.get(conn, row.district, row.key_version)
    aad = crypto.payload_aad(row.id, row.district, row.message_type, row.key_version)
    return crypto.unseal(key.key, row.ciphertext, aad)


def body(n: int) -> bytes:
    return f"<clientSummary><n>{n}</n><pnr>19121212121{n % 10}</pnr></clientSummary>".encode()

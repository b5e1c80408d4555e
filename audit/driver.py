"""The append's three statements as plain DB-API calls, in the caller's transaction.

An append at one entry per transaction is mostly statement overhead: through SQLAlchemy's
``Connection.execute`` each of the three statements (lock the head, insert the entries, sign
the head) cost 60-90 µs of Python around 10-15 µs in SQLite (profiled), more than the Ed25519
signature. The same SQL through the driver's own cursor, on the connection and in the
transaction SQLAlchemy opened, skips parameter processing, cache keys and result objects. Only
the two drivers the hub runs on are spoken (SQLite's ``?``, psycopg's ``%s``); for any other,
``statements`` is None and the callers use their SQLAlchemy statements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from audit.entry import ENTRY_FIELDS


@dataclass(frozen=True)
class Statements:
    read_head: str
    lock_head: str
    sign_head: str
    insert_entries: str


def _statements(mark: str, lock: str) -> Statements:
    head = (
        "SELECT seq, hash, at, key_id, signature, anchored_seq, unanchored_since "
        "FROM audit_head WHERE id = 1"
    )
    sign = ", ".join(
        f"{name} = {mark}"
        for name in ("seq", "hash", "at", "key_id", "signature", "unanchored_since")
    )
    return Statements(
        read_head=head,
        lock_head=head + lock,
        sign_head=f"UPDATE audit_head SET {sign} WHERE id = 1",  # noqa: S608  # no input
        insert_entries=(
            f"INSERT INTO audit_entries ({', '.join(ENTRY_FIELDS)}) "  # noqa: S608  # no input
            f"VALUES ({', '.join([mark] * len(ENTRY_FIELDS))})"
        ),
    )


_BY_DIALECT: dict[str, Statements] = {}


def statements(conn: Connection) -> Statements | None:
    """The driver's statements for ``conn``'s database, or None for a driver not spoken here."""
    dialect = conn.dialect
    known = _BY_DIALECT.get(dialect.name)
    if known is not None:
        return known
    if dialect.name == "sqlite" and dialect.driver == "pysqlite":
        made = _statements("?", "")
    elif dialect.name == "postgresql" and dialect.driver == "psycopg":
        made = _statements("%s", " FOR UPDATE")
    else:
        return None
    _BY_DIALECT[dialect.name] = made
    return made


def _cursor(conn: Connection) -> Any:
    dbapi = conn.connection.dbapi_connection
    if dbapi is None:
        raise RuntimeError("the connection is closed")
    return dbapi.cursor()


def fetch_one(conn: Connection, sql: str) -> Sequence[Any] | None:
    with _translated(conn, sql, ()) as cursor:
        cursor.execute(sql)
        row: Sequence[Any] | None = cursor.fetchone()
        return row


def execute(conn: Connection, sql: str, params: Sequence[Any]) -> None:
    with _translated(conn, sql, params) as cursor:
        cursor.execute(sql, params)


def execute_many(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    with _translated(conn, sql, ()) as cursor:
        cursor.executemany(sql, rows)


@contextmanager
def _translated(conn: Connection, sql: str, params: Sequence[Any]) -> Iterator[Any]:
    """A cursor whose driver errors come out as SQLAlchemy's (``OperationalError`` for a full
    disk, ``IntegrityError`` for a taken seq), as they would through ``Connection.execute``:
    the guards fail closed on SQLAlchemy's errors, and the callers know no other."""
    cursor = _cursor(conn)
    base = conn.dialect.loaded_dbapi.Error
    try:
        yield cursor
    except base as exc:
        raise DBAPIError.instance(sql, params, exc, base) from exc
    finally:
        cursor.close()

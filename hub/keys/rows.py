"""Every statement the key store runs on ``district_keys``, and what its failures mean.

Kept apart from ``hub.keys.store`` (the rules: first use, rotation, shredding, the cache) so the
rules read without SQL in between. All functions take the caller's ``Connection`` and never
commit. A database error becomes ``GuardUnavailable`` through ``reached`` (the key store fails
closed); a missing version is ``NotFound``, a destroyed one ``KeyShredded``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.errors import GuardUnavailable, KeyShredded, NotFound
from hub.keys.versions import KeyInfo, KeyState
from hub.storage.tables import district_keys, messages

K = district_keys.c


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for DateTime(timezone=True); we store UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def utc(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)


@contextmanager
def reached(action: str) -> Iterator[None]:
    """Turn a database error while ``action`` into ``GuardUnavailable``."""
    try:
        yield
    except DBAPIError as exc:
        raise GuardUnavailable(
            f"key store cannot be reached while {action}: {type(exc.orig).__name__}",
            reason="key_store_unavailable",
        ) from exc


def select_active(conn: Connection, district: str) -> tuple[int, Any]:
    """The highest version number and the active row, seen in one snapshot.

    One statement: were they read apart, a version committed in between by another process
    could make this one create a second active key.
    """
    rows = conn.execute(
        select(K.version, K.state, K.wrapped_key)
        .where(K.district == district)
        .order_by(K.version.desc())
    ).all()
    active = next((r for r in rows if r.state == KeyState.ACTIVE), None)
    return (rows[0].version if rows else 0), active


def highest_version(conn: Connection, district: str) -> int:
    return int(
        conn.execute(select(func.max(K.version)).where(K.district == district)).scalar_one() or 0
    )


def version_row(conn: Connection, district: str, version: int, *columns: Any) -> Any:
    """``columns`` of one key version's row; ``NotFound`` if the district never had it."""
    row = conn.execute(select(*columns).where(K.district == district, K.version == version)).first()
    if row is None:
        raise NotFound(f"district {district} has no key version {version}")
    return row


def insert_if_absent(conn: Connection, values: dict[str, object]) -> bool:
    """Insert a ``district_keys`` row unless its (district, version) exists; True if inserted.

    ON CONFLICT DO NOTHING keeps the caller's transaction usable on PostgreSQL (a plain unique
    violation would abort it); RETURNING tells whether the row went in (SQLAlchemy 2.1 does not
    keep an INSERT's rowcount). Other dialects get a savepoint.
    """
    unique = [K.district, K.version]
    if conn.dialect.name in ("postgresql", "sqlite"):
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(district_keys).values(values).on_conflict_do_nothing(index_elements=unique)
        return conn.execute(stmt.returning(K.version)).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(district_keys.insert().values(values))
    except IntegrityError:
        return False
    return True


def retire_older(conn: Connection, district: str, version: int, now: datetime) -> None:
    """Retire the district's active versions below ``version``."""
    conn.execute(
        update(district_keys)
        .where(K.district == district, K.version < version)
        .where(K.state == KeyState.ACTIVE.value)
        .values(state=KeyState.RETIRED.value, retired_at=now)
    )


def mark_shredded(conn: Connection, district: str, version: int, now: datetime) -> bool:
    """Drop a retired version's wrapped key for good; False if it was not retired any more."""
    done = conn.execute(
        update(district_keys)
        .where(K.district == district, K.version == version, K.state == KeyState.RETIRED.value)
        .values(wrapped_key=None, state=KeyState.SHREDDED.value, shredded_at=now)
    )
    return bool(done.rowcount == 1)


def retired_versions(conn: Connection, district: str) -> list[int]:
    return list(
        conn.execute(
            select(K.version).where(K.district == district, K.state == KeyState.RETIRED.value)
        ).scalars()
    )


def key_infos(conn: Connection) -> list[KeyInfo]:
    """Every key version of every district, with the number of messages sealed under it."""
    counts = (
        select(messages.c.district, messages.c.key_version, func.count().label("n"))
        .group_by(messages.c.district, messages.c.key_version)
        .subquery()
    )
    query = (
        select(
            K.district, K.version, K.state, K.created_at, K.retired_at, K.shredded_at, counts.c.n
        )
        .select_from(
            district_keys.outerjoin(
                counts, (counts.c.district == K.district) & (counts.c.key_version == K.version)
            )
        )
        .order_by(K.district, K.version)
    )
    return [
        KeyInfo(
            district=r.district,
            version=r.version,
            state=KeyState(r.state),
            created_at=aware(r.created_at),
            retired_at=utc(r.retired_at),
            shredded_at=utc(r.shredded_at),
            message_count=r.n or 0,
        )
        for r in conn.execute(query).all()
    ]


def shredded(district: str, version: int, shredded_at: datetime | None) -> KeyShredded:
    at = utc(shredded_at)
    return KeyShredded(
        f"key version {version} of district {district} was shredded at "
        f"{at.isoformat() if at is not None else 'an unrecorded time'}",
        district=district,
        version=version,
    )

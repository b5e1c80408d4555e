"""Queries of the console's people: ``users``, ``user_roles``, ``user_sessions`` and
``login_failures`` (``hub.services.users``, ``hub.services.sessions``).

Only an argon2id hash of a password and the SHA-256 of a session cookie are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hub.storage.tables import login_failures, user_roles, user_sessions, users


@dataclass(frozen=True)
class UserRow:
    name: str
    display_name: str
    password_hash: str | None
    active: bool
    created_at: datetime
    password_changed_at: datetime | None


@dataclass(frozen=True)
class RoleRow:
    role: str
    district: str  # "*" for a hub-wide role


@dataclass(frozen=True)
class SessionRow:
    user_name: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class FailureRow:
    failures: int
    locked_until: datetime | None


def _user(r: Row[Any]) -> UserRow:
    return UserRow(
        r.name, r.display_name, r.password_hash, r.active, r.created_at, r.password_changed_at
    )


def insert_user(
    conn: Connection, name: str, display_name: str, password_hash: str | None, now: datetime
) -> None:
    conn.execute(
        insert(users).values(
            name=name,
            display_name=display_name,
            password_hash=password_hash,
            active=True,
            created_at=now,
            password_changed_at=now if password_hash else None,
        )
    )


def get_user(conn: Connection, name: str) -> UserRow | None:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    return _user(row) if row else None


def all_users(conn: Connection) -> list[UserRow]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.name))]


def set_active(conn: Connection, name: str, active: bool) -> bool:
    done = conn.execute(update(users).where(users.c.name == name).values(active=active))
    return done.rowcount == 1


def set_password(conn: Connection, name: str, password_hash: str, now: datetime) -> bool:
    done = conn.execute(
        update(users)
        .where(users.c.name == name)
        .values(password_hash=password_hash, password_changed_at=now)
    )
    return done.rowcount == 1


def roles_of(conn: Connection, name: str) -> list[RoleRow]:
    stmt = (
        select(user_roles.c.role, user_roles.c.district)
        .where(user_roles.c.user_name == name)
        .order_by(user_roles.c.role, user_roles.c.district)
    )
    return [RoleRow(r.role, r.district) for r in conn.execute(stmt)]


def all_roles(conn: Connection) -> dict[str, list[RoleRow]]:
    found: dict[str, list[RoleRow]] = {}
    stmt = select(user_roles).order_by(user_roles.c.role, user_roles.c.district)
    for r in conn.execute(stmt):
        found.setdefault(r.user_name, []).append(RoleRow(r.role, r.district))
    return found


def grant(conn: Connection, name: str, role: str, district: str, now: datetime, by: str) -> bool:
    """False when the user already holds the role there."""
    if RoleRow(role, district) in roles_of(conn, name):
        return False
    conn.execute(
        insert(user_roles).values(
            user_name=name, role=role, district=district, granted_at=now, granted_by=by
        )
    )
    return True


def revoke(conn: Connection, name: str, role: str, district: str) -> bool:
    done = conn.execute(
        delete(user_roles).where(
            user_roles.c.user_name == name,
            user_roles.c.role == role,
            user_roles.c.district == district,
        )
    )
    return done.rowcount == 1


# -- sessions ---------------------------------------------------------------------------------


def insert_session(conn: Connection, token_hash: str, name: str, csrf: str, now: datetime) -> None:
    conn.execute(
        insert(user_sessions).values(
            token_hash=token_hash, user_name=name, csrf_token=csrf, created_at=now, last_seen_at=now
        )
    )


def get_session(conn: Connection, token_hash: str) -> SessionRow | None:
    row = conn.execute(
        select(user_sessions).where(user_sessions.c.token_hash == token_hash)
    ).first()
    if row is None:
        return None
    return SessionRow(row.user_name, row.csrf_token, row.created_at, row.last_seen_at, row.ended_at)


def touch_session(conn: Connection, token_hash: str, now: datetime) -> None:
    conn.execute(
        update(user_sessions)
        .where(user_sessions.c.token_hash == token_hash)
        .values(last_seen_at=now)
    )


def end_session(conn: Connection, token_hash: str, now: datetime) -> None:
    conn.execute(
        update(user_sessions)
        .where(user_sessions.c.token_hash == token_hash, user_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_sessions_of(conn: Connection, name: str, now: datetime) -> int:
    done = conn.execute(
        update(user_sessions)
        .where(user_sessions.c.user_name == name, user_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(done.rowcount)


# -- wrong passwords --------------------------------------------------------------------------


def hold_failures(conn: Connection, key: str, now: datetime) -> FailureRow:
    """The wrong-password count of ``key``, its row locked (``FOR UPDATE``) until the caller's
    transaction ends: parallel sign-ins of one account or address are counted one after the
    other, so a burst of guesses cannot all pass before the count locks them out. The row is
    made (count 0) if missing; ON CONFLICT keeps the transaction usable when two make it."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    fresh = {"key": key, "failures": 0, "locked_until": None, "updated_at": now}
    conn.execute(
        insert(login_failures).values(fresh).on_conflict_do_nothing(index_elements=["key"])
    )
    row = conn.execute(
        select(login_failures.c.failures, login_failures.c.locked_until)
        .where(login_failures.c.key == key)
        .with_for_update()
    ).one()
    return FailureRow(row.failures, row.locked_until)


def put_failures(
    conn: Connection, key: str, failures: int, locked_until: datetime | None, now: datetime
) -> None:
    conn.execute(
        update(login_failures)
        .where(login_failures.c.key == key)
        .values(failures=failures, locked_until=locked_until, updated_at=now)
    )


def clear_failures(conn: Connection, key: str) -> None:
    conn.execute(delete(login_failures).where(login_failures.c.key == key))

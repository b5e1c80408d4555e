"""Queries of the ``systems`` table: registered systems, administrators and their tokens.

Only token digests are stored (``hub.services.authentication``). A system has one current
token and, for the overlap after a rotation, at most one previous token.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, or_, select, update

from hub.storage.tables import systems


@dataclass(frozen=True)
class SystemRow:
    name: str
    description: str
    role: str
    active: bool
    created_at: datetime
    districts: frozenset[str]
    expires_at: datetime | None
    previous_expires_at: datetime | None  # set while a rotated-out token still works


@dataclass(frozen=True)
class TokenMatch:
    """The system a token digest belongs to, and until when that very token is valid."""

    system: SystemRow
    valid_until: datetime | None
    previous: bool  # the digest is the token replaced by the last rotation


def _districts(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _row(r: Row[Any]) -> SystemRow:
    return SystemRow(
        name=r.name,
        description=r.description,
        role=r.role,
        active=r.active,
        created_at=r.created_at,
        districts=_districts(r.districts),
        expires_at=r.expires_at,
        previous_expires_at=r.previous_expires_at if r.previous_token_hash else None,
    )


def insert_system(
    conn: Connection,
    *,
    name: str,
    token_hash: str,
    description: str,
    role: str,
    districts: Iterable[str],
    created_at: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        insert(systems).values(
            name=name,
            token_hash=token_hash,
            description=description,
            role=role,
            districts=" ".join(sorted(districts)),
            active=True,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def get_system(conn: Connection, name: str) -> SystemRow | None:
    row = conn.execute(select(systems).where(systems.c.name == name)).first()
    return _row(row) if row else None


def all_systems(conn: Connection) -> list[SystemRow]:
    return [_row(r) for r in conn.execute(select(systems).order_by(systems.c.name))]


def set_active(conn: Connection, name: str, active: bool) -> bool:
    result = conn.execute(update(systems).where(systems.c.name == name).values(active=active))
    return bool(result.rowcount == 1)


def replace_token(
    conn: Connection,
    name: str,
    *,
    token_hash: str,
    expires_at: datetime,
    previous_until: datetime,
) -> bool:
    """The current token becomes the previous one (valid until ``previous_until``); a token
    still in an earlier overlap is dropped at once."""
    result = conn.execute(
        update(systems)
        .where(systems.c.name == name)
        .values(
            previous_token_hash=systems.c.token_hash,
            previous_expires_at=previous_until,
            token_hash=token_hash,
            expires_at=expires_at,
        )
    )
    return bool(result.rowcount == 1)


def active_by_token(conn: Connection, digest: str) -> TokenMatch | None:
    """The active system holding this token digest, current or previous."""
    row = conn.execute(
        select(systems).where(
            or_(systems.c.token_hash == digest, systems.c.previous_token_hash == digest),
            systems.c.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    previous = row.token_hash != digest
    system = _row(row)
    return TokenMatch(
        system, row.previous_expires_at if previous else row.expires_at, previous=previous
    )

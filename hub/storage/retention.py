"""Retention's statements: which stored payloads are past their rule, shredding them, holds.

Shredding overwrites a payload with the one-byte ``SHREDDED`` marker (``hub.keys.crypto``),
which destroys the message's own key with it, and stamps ``shredded_at``; the metadata of the
message (id, type, district, agreement, subjects' HMACs, deliveries) stays for the audit trail.

Several hubs may shred at once. The candidates are read ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (two hubs take different rows) and the update is guarded by
``shredded_at IS NULL`` with ``RETURNING``: a row another hub shredded first is not counted
again. SQLite writers are serialized (``BEGIN IMMEDIATE``, ``hub.storage.engine``). On SQLite
the update runs under ``PRAGMA secure_delete``, so the bytes of the old payload are zeroed in
the freed space instead of lingering in the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, exists, func, literal, select, update
from sqlalchemy.sql.elements import ColumnElement

from hub.keys.crypto import SHREDDED
from hub.storage.tables import legal_holds, message_subjects, messages

M = messages.c
H = legal_holds.c


@dataclass(frozen=True)
class Group:
    """Stored messages that share one retention rule and one audit entry per batch."""

    district: str
    agreement_ref: str
    categories: str


@dataclass(frozen=True)
class Counts:
    stored: int  # payloads still readable
    shredded: int
    due: int  # past the rule and not held: the next run shreds them
    held: int  # past the rule but under a legal hold
    oldest: datetime | None  # received_at of the oldest readable payload


def groups(conn: Connection, districts: frozenset[str] | None) -> list[Group]:
    """Every (district, agreement, categories) that has messages, shredded or not."""
    query = (
        select(M.district, M.agreement_ref, M.categories)
        .where(M.agreement_ref.is_not(None))
        .distinct()
        .order_by(M.district, M.agreement_ref, M.categories)
    )
    if districts is not None:
        query = query.where(M.district.in_(sorted(districts)))
    return [Group(r.district, r.agreement_ref, r.categories) for r in conn.execute(query)]


def _of(group: Group) -> ColumnElement[bool]:
    return and_(
        M.agreement_ref == group.agreement_ref,
        M.district == group.district,
        M.categories == group.categories,
    )


def held() -> ColumnElement[bool]:
    """A message under a legal hold not yet lifted: of its district, or of one of its persons."""
    district_hold = exists().where(
        H.district == M.district, H.subject_ref.is_(None), H.lifted_at.is_(None)
    )
    person_hold = exists().where(
        message_subjects.c.message_id == M.id,
        H.subject_ref == message_subjects.c.subject_ref,
        H.district == M.district,
        H.lifted_at.is_(None),
    )
    return district_hold | person_hold


def counts(conn: Connection, group: Group, cutoff: datetime) -> Counts:
    live = M.shredded_at.is_(None)
    past = live & (M.received_at < cutoff)
    is_held = held()
    row = conn.execute(
        select(
            func.count().filter(live),
            func.count().filter(M.shredded_at.is_not(None)),
            func.count().filter(past & ~is_held),
            func.count().filter(past & is_held),
            func.min(M.received_at).filter(live),
        ).where(_of(group))
    ).one()
    return Counts(int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4])


def due_ids(conn: Connection, group: Group, cutoff: datetime, limit: int) -> list[str]:
    """Up to ``limit`` ids of the group past ``cutoff``, not held, not shredded, oldest first;
    locked (skipping rows another hub holds) on PostgreSQL.

    Oldest first follows ``ix_messages_retention`` (agreement, shredded_at, received_at), so a
    batch reads about ``limit`` rows and checks only those against the holds; ordered by id it
    would check every remaining row of the group for each batch (measured: quadratic)."""
    query = (
        select(M.id)
        .where(_of(group), M.shredded_at.is_(None), M.received_at < cutoff, ~held())
        .order_by(M.received_at)  # no tie-break: one would sort every row of a tie first
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=messages)
    return list(conn.execute(query).scalars())


def shred(conn: Connection, ids: Sequence[str], now: datetime) -> list[str]:
    """Overwrite the payloads of ``ids`` that no one shredded yet; the ids this call shredded."""
    if not ids:
        return []
    statement = (
        update(messages)
        .where(M.id.in_(list(ids)), M.shredded_at.is_(None))
        .values(ciphertext=literal(SHREDDED), shredded_at=now)
        .returning(M.id)
    )
    if conn.dialect.name != "sqlite":
        return sorted(conn.execute(statement).scalars())
    before = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
    conn.exec_driver_sql("PRAGMA secure_delete = ON")  # Debian's build has it on already
    try:
        return sorted(conn.execute(statement).scalars())
    finally:  # the pooled connection goes back to what it was for other work
        conn.exec_driver_sql(f"PRAGMA secure_delete = {int(before or 0)}")


def shredded_at(conn: Connection, message_id: str) -> datetime | None:
    value: Any = conn.execute(select(M.shredded_at).where(M.id == message_id)).scalar()
    return value if isinstance(value, datetime) else None

"""IVO tracking rows: execution events not yet applied, tracked decisions (sealed state).

Functions take a ``Connection`` inside the caller's transaction and never commit: the tracking
job applies a batch of events, marks them applied and audits the decryption together.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, insert, or_, select, text, update

from hub.ingest.records import StoredMessage
from hub.storage.messages import _META_COLUMNS, _stored
from hub.storage.tables import ivo_decisions, ivo_tracked_messages, messages


@dataclass(frozen=True)
class DecisionRow:
    district: str
    decision_id: str
    subject_ref: str
    key_version: int
    ciphertext: bytes
    events: int


# An arbitrary, fixed key for PostgreSQL's transaction-scoped advisory lock of the tracking job.
_TRACKING_LOCK = 0x1F0_7AC3


def lock_tracking(conn: Connection) -> None:
    """Serialize tracking batches across processes for this transaction. SQLite already does
    (every write transaction begins IMMEDIATE); on PostgreSQL two jobs could otherwise both
    read a decision's state and each write back its own event, losing the other's."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TRACKING_LOCK})


def untracked(
    conn: Connection,
    message_type: str,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[StoredMessage, bytes]]:
    """Messages of ``message_type`` not yet applied, oldest first, after the keyset cursor
    ``after`` (``(received_at, id)`` of the last one seen in this run)."""
    query = (
        select(*_META_COLUMNS, messages.c.ciphertext)
        .where(messages.c.message_type == message_type)
        .where(~messages.c.id.in_(select(ivo_tracked_messages.c.message_id)))
        .order_by(messages.c.received_at, messages.c.id)
        .limit(limit)
    )
    if after is not None:
        at, message_id = after
        query = query.where(
            or_(
                messages.c.received_at > at,
                and_(messages.c.received_at == at, messages.c.id > message_id),
            )
        )
    return [(_stored(row), bytes(row.ciphertext)) for row in conn.execute(query)]  # type: ignore[arg-type]


def mark_tracked(conn: Connection, message_ids: Sequence[str], now: datetime) -> None:
    if message_ids:
        conn.execute(
            insert(ivo_tracked_messages),
            [{"message_id": m, "tracked_at": now} for m in message_ids],
        )


def _row(r: object) -> DecisionRow:
    m = r._mapping  # type: ignore[attr-defined]
    return DecisionRow(
        m["district"],
        m["decision_id"],
        m["subject_ref"],
        m["key_version"],
        bytes(m["ciphertext"]),
        m["events"],
    )


def decisions(
    conn: Connection,
    district: str,
    decision_ids: Collection[str] | None = None,
    *,
    not_version: int | None = None,
) -> list[DecisionRow]:
    """The district's tracked decisions (only ``decision_ids`` when given; only those sealed
    under another key version than ``not_version`` when given), by decision id."""
    query = select(ivo_decisions).where(ivo_decisions.c.district == district)
    if not_version is not None:
        query = query.where(ivo_decisions.c.key_version != not_version)
    if decision_ids is not None:
        query = query.where(ivo_decisions.c.decision_id.in_(sorted(decision_ids)))
    return [_row(r) for r in conn.execute(query.order_by(ivo_decisions.c.decision_id))]


def save(
    conn: Connection, rows: Sequence[DecisionRow], existing: Collection[str], now: datetime
) -> None:
    """Insert the new rows and update those whose decision id is in ``existing``."""
    fresh = [r for r in rows if r.decision_id not in existing]
    if fresh:
        conn.execute(
            insert(ivo_decisions),
            [{**r.__dict__, "updated_at": now} for r in fresh],
        )
    for r in rows:
        if r.decision_id in existing:
            conn.execute(
                update(ivo_decisions)
                .where(
                    ivo_decisions.c.district == r.district,
                    ivo_decisions.c.decision_id == r.decision_id,
                )
                .values(
                    subject_ref=r.subject_ref,
                    key_version=r.key_version,
                    ciphertext=r.ciphertext,
                    events=r.events,
                    updated_at=now,
                )
            )

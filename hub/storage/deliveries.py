"""Delivery rows: the outbox. Claiming under a lease, recording outcomes, sweeping, replaying.

The claim counter fences stale workers: every claim increments it, and an outcome is recorded
only ``WHERE claim = <the claim the worker was given>``. A worker that was presumed dead (its
lease expired and the delivery was handed out again) can therefore never overwrite the newer
attempt's outcome; the destination de-duplicates the repeated wire delivery on the delivery id.

The values (``DeliveryRow``, ``ClaimedDelivery``, ``OutcomeRow``) are the outbox's own
(``hub.outbox.records``); this module fills them and re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, update

from hub.envelope import DeliveryState
from hub.outbox.records import ClaimedDelivery, DeliveryRow, OutcomeRow
from hub.storage.messages import subject_refs_for
from hub.storage.tables import UtcDateTime, deliveries, messages

__all__ = [
    "ClaimedDelivery",
    "DeliveryRow",
    "OutcomeRow",
    "claim_due",
    "dead_ids",
    "expire_leases",
    "for_message",
    "get",
    "load_claimed",
    "make_due_again",
    "record_outcomes",
    "still_held",
]

_DUE_STATES = (DeliveryState.PENDING.value, DeliveryState.RETRYING.value)


def _row(r: Row[Any]) -> DeliveryRow:
    m = r._mapping
    return DeliveryRow(**{f: m[f] for f in DeliveryRow.__dataclass_fields__})


def claim_due(
    conn: Connection, now: datetime, lease: timedelta, limit: int, *, skip_locked: bool
) -> list[tuple[str, int, str]]:
    """Claim up to ``limit`` due deliveries: ``in_flight`` under a lease, attempt counted.

    Returns ``(delivery id, claim, destination)``. On PostgreSQL ``SKIP LOCKED`` lets several
    relays claim side by side; on SQLite the write lock already serializes them.
    """
    query = (
        select(deliveries.c.id)
        .where(deliveries.c.state.in_(_DUE_STATES), deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    result = conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(ids), deliveries.c.state.in_(_DUE_STATES))
        .values(
            state=DeliveryState.IN_FLIGHT.value,
            claim=deliveries.c.claim + 1,
            attempts=deliveries.c.attempts + 1,
            lease_until=now + lease,
            updated_at=now,
        )
        .returning(deliveries.c.id, deliveries.c.claim, deliveries.c.destination)
    )
    return [(r.id, r.claim, r.destination) for r in result]


def expire_leases(conn: Connection, now: datetime) -> int:
    """Make in-flight deliveries whose lease ran out due again (their worker died or stalled)."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.state == DeliveryState.IN_FLIGHT.value,
            deliveries.c.lease_until < now,
        )
        .values(
            state=DeliveryState.RETRYING.value,
            next_attempt_at=now,
            lease_until=None,
            last_reason="lease_expired",
            last_error="the worker did not report back before its lease expired",
            updated_at=now,
        )
    )
    return int(result.rowcount)


def load_claimed(conn: Connection, claims: Sequence[tuple[str, int]]) -> list[ClaimedDelivery]:
    """Load the claimed deliveries still held by these claims, with their messages' data
    subjects (two statements); stale ones are left out."""
    if not claims:
        return []
    wanted = dict(claims)
    rows = conn.execute(
        select(
            deliveries,
            messages.c.sender,
            messages.c.message_type,
            messages.c.version,
            messages.c.district,
            messages.c.purpose,
            messages.c.categories,
            messages.c.key_version,
            messages.c.ciphertext,
            messages.c.received_at,
        )
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(
            deliveries.c.id.in_(list(wanted)),
            deliveries.c.state == DeliveryState.IN_FLIGHT.value,
        )
    ).all()
    held = [r for r in rows if wanted.get(r.id) == r.claim]
    subjects = subject_refs_for(conn, [r.message_id for r in held])
    return [
        ClaimedDelivery(
            delivery=_row(r),
            sender=r.sender,
            message_type=r.message_type,
            version=r.version,
            district=r.district,
            purpose=r.purpose,
            categories=tuple(c for c in r.categories.split(",") if c),
            key_version=r.key_version,
            ciphertext=bytes(r.ciphertext),
            received_at=r.received_at,
            subject_refs=tuple(subjects.get(r.message_id, ())),
        )
        for r in held
    ]


_RECORD = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("b_id"),
        deliveries.c.claim == bindparam("b_claim"),
        deliveries.c.state == DeliveryState.IN_FLIGHT.value,
    )
    .values(
        state=bindparam("b_state"),
        lease_until=None,
        updated_at=bindparam("b_now", type_=UtcDateTime()),
        last_error=bindparam("b_error"),
        last_reason=bindparam("b_reason"),
        # Typed binds: inside coalesce() the column type would not apply, and SQLite compares
        # the stored naive UTC text with whatever the driver made of an untyped datetime.
        next_attempt_at=func.coalesce(
            bindparam("b_next", type_=UtcDateTime()), deliveries.c.next_attempt_at
        ),
        delivered_at=func.coalesce(
            bindparam("b_delivered_at", type_=UtcDateTime()), deliveries.c.delivered_at
        ),
        receipt_ref=func.coalesce(bindparam("b_receipt"), deliveries.c.receipt_ref),
        sent_at=func.coalesce(bindparam("b_sent_at", type_=UtcDateTime()), deliveries.c.sent_at),
    )
)


def record_outcomes(conn: Connection, now: datetime, outcomes: Sequence[OutcomeRow]) -> set[str]:
    """Record a batch of outcomes in two round trips; returns the ids recorded.

    The claims are read (and locked, on PostgreSQL) first; an outcome whose claim was taken
    over by a newer attempt is left out: the newer attempt owns the delivery.
    """
    if not outcomes:
        return set()
    valid = still_held(conn, outcomes, DeliveryState.IN_FLIGHT)
    if valid:
        conn.execute(
            _RECORD,
            [
                {
                    "b_id": o.delivery_id,
                    "b_claim": o.claim,
                    "b_state": o.state.value,
                    "b_now": now,
                    "b_error": o.error,
                    "b_reason": o.reason,
                    "b_next": o.next_attempt_at,
                    "b_delivered_at": now if o.state is DeliveryState.DELIVERED else None,
                    "b_receipt": o.receipt_ref,
                    "b_sent_at": o.sent_at,
                }
                for o in valid
            ],
        )
    return {o.delivery_id for o in valid}


def still_held(
    conn: Connection, outcomes: Sequence[OutcomeRow], state: DeliveryState
) -> list[OutcomeRow]:
    """The outcomes whose claim still holds, their deliveries still in ``state``; the claims
    are read and locked (PostgreSQL) first, so the update that follows cannot race them."""
    rows = conn.execute(
        select(deliveries.c.id, deliveries.c.claim)
        .where(
            deliveries.c.id.in_([o.delivery_id for o in outcomes]),
            deliveries.c.state == state.value,
        )
        .with_for_update()
    )
    held = {delivery_id: claim for delivery_id, claim in rows}
    return [o for o in outcomes if held.get(o.delivery_id) == o.claim]


def for_message(conn: Connection, message_id: str) -> list[DeliveryRow]:
    rows = conn.execute(
        select(deliveries)
        .where(deliveries.c.message_id == message_id)
        .order_by(deliveries.c.destination)
    )
    return [_row(r) for r in rows]


def get(conn: Connection, delivery_id: str) -> DeliveryRow | None:
    row = conn.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
    return _row(row) if row else None


def dead_ids(conn: Connection, destination: str | None) -> list[str]:
    query = select(deliveries.c.id).where(deliveries.c.state == DeliveryState.DEAD.value)
    if destination:
        query = query.where(deliveries.c.destination == destination)
    return list(conn.execute(query.order_by(deliveries.c.created_at)).scalars())


def make_due_again(conn: Connection, delivery_id: str, now: datetime, reason: str) -> bool:
    """Replay: a dead (or refused) delivery becomes pending with a fresh attempt budget."""
    result = conn.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.state.in_([DeliveryState.DEAD.value, DeliveryState.REFUSED.value]),
        )
        .values(
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            created_at=now,
            updated_at=now,
            last_reason="replayed",
            last_error=f"replayed: {reason}",
        )
    )
    return bool(result.rowcount == 1)

"""Deliveries awaiting a destination's receipt: claimed for a poll, their outcome recorded.

The same claim fence as ``hub.storage.deliveries``: a claim bumps the counter, and an outcome
is written only ``WHERE claim = <the claim the poller was given>`` and the delivery still
awaits its receipt. While one poller holds it, its ``next_attempt_at`` lies a lease ahead, so
no other relay claims it; a poller that dies only delays the next poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update

from hub.envelope import DeliveryState
from hub.outbox.records import OutcomeRow, WaitingDelivery
from hub.storage.deliveries import still_held
from hub.storage.messages import subject_refs_for
from hub.storage.tables import UtcDateTime, deliveries, messages

_WAITING = DeliveryState.AWAITING_RECEIPT.value


def claim_waiting(
    conn: Connection, now: datetime, lease: timedelta, limit: int, *, skip_locked: bool
) -> list[WaitingDelivery]:
    query = (
        select(deliveries.c.id)
        .where(deliveries.c.state == _WAITING, deliveries.c.next_attempt_at <= now)
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    ids = list(conn.execute(query).scalars())
    if not ids:
        return []
    claimed: dict[str, int] = {
        r.id: r.claim
        for r in conn.execute(
            update(deliveries)
            .where(deliveries.c.id.in_(ids), deliveries.c.state == _WAITING)
            .values(claim=deliveries.c.claim + 1, next_attempt_at=now + lease, updated_at=now)
            .returning(deliveries.c.id, deliveries.c.claim)
        )
    }
    rows = conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.destination,
            deliveries.c.receipt_ref,
            deliveries.c.sent_at,
            deliveries.c.updated_at,
            deliveries.c.message_id,
            messages.c.sender,
            messages.c.district,
            messages.c.purpose,
            messages.c.agreement_ref,
            messages.c.received_at,
        )
        .join(messages, messages.c.id == deliveries.c.message_id)
        .where(deliveries.c.id.in_(list(claimed)))
    ).all()
    subjects = subject_refs_for(conn, [r.message_id for r in rows])
    return [
        WaitingDelivery(
            delivery_id=r.id,
            claim=claimed[r.id],
            destination=r.destination,
            receipt_ref=r.receipt_ref or "",
            sent_at=r.sent_at or r.updated_at,
            message_id=r.message_id,
            sender=r.sender,
            district=r.district,
            purpose=r.purpose,
            agreement_ref=r.agreement_ref,
            received_at=r.received_at,
            subject_refs=tuple(subjects.get(r.message_id, ())),
        )
        for r in rows
    ]


_RECORD = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("b_id"),
        deliveries.c.claim == bindparam("b_claim"),
        deliveries.c.state == _WAITING,
    )
    .values(
        state=bindparam("b_state"),
        updated_at=bindparam("b_now", type_=UtcDateTime()),
        next_attempt_at=bindparam("b_next", type_=UtcDateTime()),
        last_error=bindparam("b_error"),
        last_reason=bindparam("b_reason"),
        delivered_at=bindparam("b_delivered_at", type_=UtcDateTime()),
    )
)


def record_receipts(conn: Connection, now: datetime, outcomes: Sequence[OutcomeRow]) -> set[str]:
    if not outcomes:
        return set()
    valid = still_held(conn, outcomes, DeliveryState.AWAITING_RECEIPT)
    if valid:
        conn.execute(
            _RECORD,
            [
                {
                    "b_id": o.delivery_id,
                    "b_claim": o.claim,
                    "b_state": o.state.value,
                    "b_now": now,
                    "b_next": o.next_attempt_at or now,
                    "b_error": o.error,
                    "b_reason": o.reason,
                    "b_delivered_at": now if o.state is DeliveryState.DELIVERED else None,
                }
                for o in valid
            ],
        )
    return {o.delivery_id for o in valid}

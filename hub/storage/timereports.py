"""Statements of time reporting: providers, batches, reopened periods, and the visits of a batch
found by their business keys (``provider`` and ``batch_id`` are plain, ``staff_id`` a keyed
HMAC), so nothing here decrypts a payload."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.envelope import DeliveryState
from hub.errors import Conflict
from hub.storage.tables import (
    business_keys,
    deliveries,
    message_subjects,
    messages,
    timereport_batches,
    timereport_providers,
    timereport_reopened,
)


@dataclass(frozen=True)
class ProviderRow:
    provider: str
    system: str
    district: str
    lock_day: int | None


@dataclass(frozen=True)
class BatchRow:
    provider: str
    batch_id: str
    sender: str
    district: str
    state: str
    visits: int
    warnings: list[dict[str, object]]
    received_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None


def save_provider(
    conn: Connection, provider: str, system: str, district: str, lock_day: int | None, now: datetime
) -> None:
    values = {"system": system, "district": district, "lock_day": lock_day}
    changed = conn.execute(
        update(timereport_providers)
        .where(timereport_providers.c.provider == provider)
        .values(**values)
    ).rowcount
    if not changed:
        conn.execute(
            insert(timereport_providers).values(provider=provider, created_at=now, **values)
        )


def provider_row(conn: Connection, provider: str) -> ProviderRow | None:
    row = conn.execute(
        select(timereport_providers).where(timereport_providers.c.provider == provider)
    ).first()
    return (
        None if row is None else ProviderRow(row.provider, row.system, row.district, row.lock_day)
    )


def providers_of(conn: Connection, system: str) -> list[str]:
    return list(
        conn.execute(
            select(timereport_providers.c.provider)
            .where(timereport_providers.c.system == system)
            .order_by(timereport_providers.c.provider)
        ).scalars()
    )


def batch_row(conn: Connection, provider: str, batch_id: str) -> BatchRow | None:
    row = conn.execute(
        select(timereport_batches).where(
            timereport_batches.c.provider == provider, timereport_batches.c.batch_id == batch_id
        )
    ).first()
    if row is None:
        return None
    return BatchRow(
        row.provider,
        row.batch_id,
        row.sender,
        row.district,
        row.state,
        row.visits,
        json.loads(row.warnings) if row.warnings else [],
        row.received_at,
        row.decided_at,
        row.decided_by,
        row.reason,
    )


def count_visits(
    conn: Connection,
    provider: str,
    batch_id: str,
    sender: str,
    district: str,
    n: int,
    now: datetime,
) -> None:
    """Visits of a batch stored (at ingest): the batch's row made, or its count raised."""
    table = timereport_batches
    where = and_(table.c.provider == provider, table.c.batch_id == batch_id)
    if conn.execute(update(table).where(where).values(visits=table.c.visits + n)).rowcount:
        return
    conn.execute(
        insert(table).values(
            provider=provider,
            batch_id=batch_id,
            sender=sender,
            district=district,
            state="held",
            visits=n,
            received_at=now,
        )
    )


def set_warnings(
    conn: Connection, provider: str, batch_id: str, warnings: Sequence[dict[str, object]]
) -> None:
    conn.execute(
        update(timereport_batches)
        .where(timereport_batches.c.provider == provider, timereport_batches.c.batch_id == batch_id)
        .values(warnings=json.dumps(list(warnings)) if warnings else None)
    )


def decide(
    conn: Connection, provider: str, batch_id: str, state: str, by: str, reason: str | None,
    now: datetime,
) -> bool:  # fmt: skip
    """Move a held batch to ``state``; False when it is no longer held (decided already)."""
    return bool(
        conn.execute(
            update(timereport_batches)
            .where(
                timereport_batches.c.provider == provider,
                timereport_batches.c.batch_id == batch_id,
                timereport_batches.c.state == "held",
            )
            .values(state=state, decided_at=now, decided_by=by, reason=reason)
        ).rowcount
    )


def _batch_visit_ids(provider: str, batch_id: str, sender: str) -> Select[Any]:
    """The ids of the messages whose business keys name this provider and batch, sent by the
    batch's sender (a system naming another's provider in its XML joins no batch of it)."""
    by_batch = business_keys.alias("by_batch")
    by_provider = business_keys.alias("by_provider")
    return (
        select(by_batch.c.message_id)
        .join(by_provider, by_provider.c.message_id == by_batch.c.message_id)
        .join(messages, messages.c.id == by_batch.c.message_id)
        .where(
            by_batch.c.name == "batch_id",
            by_batch.c.value == batch_id,
            by_provider.c.name == "provider",
            by_provider.c.value == provider,
            messages.c.sender == sender,
        )
    )


def batch_messages(
    conn: Connection, provider: str, batch_id: str, sender: str
) -> dict[str, list[str]]:
    """Message id -> the subject refs of each visit of the batch (for the audit)."""
    out: dict[str, list[str]] = {}
    ids = list(conn.execute(_batch_visit_ids(provider, batch_id, sender)).scalars())
    for message_id in ids:
        out[message_id] = []
    if ids:
        for message_id, ref in conn.execute(
            select(message_subjects.c.message_id, message_subjects.c.subject_ref).where(
                message_subjects.c.message_id.in_(ids)
            )
        ):
            out[message_id].append(ref)
    return out


def manual_visits(conn: Connection, provider: str, batch_id: str, sender: str) -> int:
    """How many visits of the batch were confirmed by hand (the plain key ``confirmation``)."""
    query = (
        select(func.count())
        .select_from(business_keys)
        .where(
            business_keys.c.name == "confirmation",
            business_keys.c.value == "manual",
            business_keys.c.message_id.in_(_batch_visit_ids(provider, batch_id, sender)),
        )
    )
    return int(conn.execute(query).scalar_one())


def move_held(
    conn: Connection, message_ids: Collection[str], state: DeliveryState, now: datetime,
    reason: str | None = None,
) -> list[tuple[str, str, str]]:  # fmt: skip
    """Held deliveries of these messages to ``state`` (pending: due now); returns ``(delivery
    id, message id, destination)`` of each moved. Only ``held`` ones move: never one twice."""
    if not message_ids:
        return []
    held = and_(
        deliveries.c.message_id.in_(list(message_ids)),
        deliveries.c.state == DeliveryState.HELD.value,
    )
    moved = [
        (r.id, r.message_id, r.destination)
        for r in conn.execute(
            select(deliveries.c.id, deliveries.c.message_id, deliveries.c.destination)
            .where(held)
            .with_for_update()
        )
    ]
    values: dict[str, object] = {"state": state.value, "updated_at": now}
    if state is DeliveryState.PENDING:
        values["next_attempt_at"] = now
    else:
        values["last_reason"] = "rejected_by_provider"
        values["last_error"] = reason
    conn.execute(update(deliveries).where(held).values(**values))
    return moved


def stored_visits(
    conn: Connection, provider: str, sender: str, staff_refs: Collection[str], days: Collection[str]
) -> list[tuple[str, str, str]]:
    """``(staff ref, actual start, actual end)`` of stored visits of ``provider`` (sent by its
    system) on ``days`` by these staff (as first or second staff), rejected batches left out."""
    if not staff_refs or not days:
        return []
    staff = business_keys.alias("staff")
    day = business_keys.alias("day")
    prov = business_keys.alias("prov")
    start = business_keys.alias("start")
    end = business_keys.alias("end_")
    batch = business_keys.alias("batch")
    query = (
        select(staff.c.value, start.c.value, end.c.value)
        .join(day, and_(day.c.message_id == staff.c.message_id, day.c.name == "visit_date"))
        .join(prov, and_(prov.c.message_id == staff.c.message_id, prov.c.name == "provider"))
        .join(start, and_(start.c.message_id == staff.c.message_id, start.c.name == "actual_start"))
        .join(end, and_(end.c.message_id == staff.c.message_id, end.c.name == "actual_end"))
        .join(batch, and_(batch.c.message_id == staff.c.message_id, batch.c.name == "batch_id"))
        .join(messages, messages.c.id == staff.c.message_id)
        .outerjoin(
            timereport_batches,
            and_(
                timereport_batches.c.provider == prov.c.value,
                timereport_batches.c.batch_id == batch.c.value,
            ),
        )
        .where(
            staff.c.name.in_(("staff_id", "second_staff_id")),
            staff.c.value.in_(list(staff_refs)),
            day.c.value.in_(list(days)),
            prov.c.value == provider,
            messages.c.sender == sender,
            messages.c.message_type == "timereport.visit",
            (timereport_batches.c.state.is_(None)) | (timereport_batches.c.state != "rejected"),
        )
    )
    return [(r[0], r[1], r[2]) for r in conn.execute(query)]


def reopened(conn: Connection, provider: str, now: datetime) -> frozenset[str]:
    return frozenset(
        conn.execute(
            select(timereport_reopened.c.period).where(
                timereport_reopened.c.provider == provider, timereport_reopened.c.until > now
            )
        ).scalars()
    )


def reopen(
    conn: Connection, provider: str, period: str, reason: str, by: str, now: datetime,
    until: datetime,
) -> None:  # fmt: skip
    values = {"reason": reason, "reopened_by": by, "reopened_at": now, "until": until}
    where = and_(timereport_reopened.c.provider == provider, timereport_reopened.c.period == period)
    if conn.execute(update(timereport_reopened).where(where).values(**values)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(timereport_reopened).values(provider=provider, period=period, **values)
            )
    except IntegrityError as exc:  # reopened by another officer at the same moment
        raise Conflict(f"period {period} of {provider} was just reopened; try again") from exc


def delivery_states(conn: Connection, message_ids: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    if message_ids:
        for state, n in conn.execute(
            select(deliveries.c.state, func.count())
            .where(deliveries.c.message_id.in_(list(message_ids)))
            .group_by(deliveries.c.state)
        ):
            out[state] = n
    return out

"""Rows of the working-time check (SQLAlchemy Core), for ``hub.atl`` and its services.

Every function takes a ``Connection`` inside the caller's transaction and never commits.
Shift reports are found by their business keys (``timereport.assistance_shift``): the client
as a subject HMAC, the assistant as a key HMAC, provider and month plain.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, insert, select, update
from sqlalchemy.orm import aliased

from hub.envelope import DeliveryState
from hub.storage.tables import (
    atl_holds,
    business_keys,
    deliveries,
    message_subjects,
    messages,
)

SHIFT_TYPE = "timereport.assistance_shift"


@dataclass(frozen=True)
class SealedReport:
    """A stored shift report, still sealed, with what names its place: the client's key HMAC
    and the month (a later report of the same employment, client and month replaces it)."""

    client: str
    period: str
    id: str
    district: str
    message_type: str
    key_version: int
    ciphertext: bytes
    purpose: str
    agreement_ref: str | None


@dataclass(frozen=True)
class HoldRow:
    delivery_id: str
    message_id: str
    district: str
    period_from: str
    period_to: str
    violations: list[dict[str, object]]
    held_at: datetime
    decision: str | None
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    state: str  # the delivery's state now


def _key(name: str):  # type: ignore[no-untyped-def]
    return aliased(business_keys, name=f"k_{name}")


def employments(
    conn: Connection, district: str, subject_refs: Collection[str], months: Collection[str]
) -> set[tuple[str, str]]:
    """``(provider, assistant HMAC)`` of the shift reports naming one of ``subject_refs`` in
    one of ``months`` (YYYY-MM) in ``district``: who worked for the voucher's client."""
    if not subject_refs or not months:
        return set()
    provider, assistant, period = _key("provider"), _key("assistant"), _key("period")
    query = (
        select(provider.c.value, assistant.c.value)
        .select_from(messages)
        .join(message_subjects, message_subjects.c.message_id == messages.c.id)
        .join(provider, and_(provider.c.message_id == messages.c.id, provider.c.name == "provider"))
        .join(
            assistant,
            and_(assistant.c.message_id == messages.c.id, assistant.c.name == "assistant"),
        )
        .join(period, and_(period.c.message_id == messages.c.id, period.c.name == "period"))
        .where(
            messages.c.district == district,
            messages.c.message_type == SHIFT_TYPE,
            message_subjects.c.subject_ref.in_(sorted(subject_refs)),
            period.c.value.in_(sorted(months)),
        )
    )
    return {(p, a) for p, a in conn.execute(query)}


def reports(
    conn: Connection,
    district: str | None,
    months: Collection[str],
    employment: tuple[str, str] | None = None,
) -> list[tuple[str, str, SealedReport]]:
    """``(provider, assistant HMAC, sealed report)`` of ``months``, of one employment or all,
    oldest first."""
    provider, assistant, period = _key("provider"), _key("assistant"), _key("period")
    client = _key("client")
    query = (
        select(
            provider.c.value,
            assistant.c.value,
            client.c.value,
            period.c.value,
            messages.c.id,
            messages.c.district,
            messages.c.message_type,
            messages.c.key_version,
            messages.c.ciphertext,
            messages.c.purpose,
            messages.c.agreement_ref,
        )
        .select_from(messages)
        .join(provider, and_(provider.c.message_id == messages.c.id, provider.c.name == "provider"))
        .join(
            assistant,
            and_(assistant.c.message_id == messages.c.id, assistant.c.name == "assistant"),
        )
        .join(period, and_(period.c.message_id == messages.c.id, period.c.name == "period"))
        .join(client, and_(client.c.message_id == messages.c.id, client.c.name == "client"))
        .where(messages.c.message_type == SHIFT_TYPE, period.c.value.in_(sorted(months)))
        .order_by(messages.c.received_at, messages.c.id)
    )
    if district is not None:
        query = query.where(messages.c.district == district)
    if employment is not None:
        query = query.where(provider.c.value == employment[0], assistant.c.value == employment[1])
    return [(r[0], r[1], SealedReport(*r[2:])) for r in conn.execute(query)]


def hold(
    conn: Connection,
    *,
    delivery_ids: Sequence[str],
    message_id: str,
    district: str,
    period: tuple[str, str],
    violations: list[dict[str, object]],
    summary: str,
    now: datetime,
) -> None:
    """Put ``delivery_ids`` (still ``pending``, just written) in ``held`` with their reason."""
    if not delivery_ids:
        return
    conn.execute(
        update(deliveries)
        .where(deliveries.c.id.in_(list(delivery_ids)))
        .values(
            state=DeliveryState.HELD.value,
            last_reason="atl_violation",
            last_error=summary[:2000],
            updated_at=now,
        )
    )
    conn.execute(
        insert(atl_holds),
        [
            {
                "delivery_id": d,
                "message_id": message_id,
                "district": district,
                "period_from": period[0],
                "period_to": period[1],
                "violations": json.dumps(violations),
                "held_at": now,
            }
            for d in delivery_ids
        ],
    )


def get_hold(conn: Connection, delivery_id: str) -> HoldRow | None:
    rows = _holds(conn, atl_holds.c.delivery_id == delivery_id)
    return rows[0] if rows else None


def list_holds(
    conn: Connection, districts: Collection[str] | None, *, open_only: bool = False
) -> list[HoldRow]:
    conditions = []
    if districts is not None:
        conditions.append(atl_holds.c.district.in_(sorted(districts)))
    if open_only:
        conditions.append(atl_holds.c.decision.is_(None))
    return _holds(conn, *conditions)


def _holds(conn: Connection, *conditions: object) -> list[HoldRow]:
    query = (
        select(atl_holds, deliveries.c.state)
        .join(deliveries, deliveries.c.id == atl_holds.c.delivery_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(atl_holds.c.held_at)
    )
    return [
        HoldRow(
            delivery_id=r.delivery_id,
            message_id=r.message_id,
            district=r.district,
            period_from=r.period_from,
            period_to=r.period_to,
            violations=json.loads(r.violations),
            held_at=r.held_at,
            decision=r.decision,
            decided_by=r.decided_by,
            decided_at=r.decided_at,
            reason=r.reason,
            state=r.state,
        )
        for r in conn.execute(query)
    ]


def decide(
    conn: Connection, delivery_id: str, *, decision: str, by: str, reason: str, now: datetime
) -> bool:
    """Release (→ ``pending``, due now) or reject (→ ``rejected``: final, never sent, no
    replay) a held delivery, once."""
    values: dict[str, object] = {"updated_at": now}
    if decision == "released":
        values.update(
            state=DeliveryState.PENDING.value,
            next_attempt_at=now,
            last_reason="atl_released",
            last_error=f"released: {reason}"[:2000],
        )
    else:
        values.update(
            state=DeliveryState.REJECTED.value,
            last_reason="atl_rejected",
            last_error=f"rejected: {reason}"[:2000],
        )
    moved = conn.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == DeliveryState.HELD.value)
        .values(**values)
    )
    if moved.rowcount != 1:
        return False
    conn.execute(
        update(atl_holds)
        .where(atl_holds.c.delivery_id == delivery_id)
        .values(decision=decision, decided_by=by, decided_at=now, reason=reason)
    )
    return True

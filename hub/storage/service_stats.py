"""The counts behind the monthly statistics and the chargeback (SQLAlchemy Core), metadata only:
the ``referrals`` rows (district, ordering unit, category, type, class, deadline, when closed),
the deliveries of the month's messages, and the lookups' ``queried`` audit entries. Nothing here
reads a payload or a person. Each function takes the caller's ``Connection`` and a half-open
UTC range ``[start, end)``, and is one indexed range scan with its grouping in the database.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, case, func, select

from audit.entry import format_at
from audit.tables import audit_entries
from hub.storage.tables import deliveries, referrals

UNKNOWN = "unknown"  # a referral stored before its facts were kept (migration 0014)


@dataclass(frozen=True)
class ReferralCount:
    district: str
    ordering_unit: str
    main_category: str
    case_type: str
    case_class: str
    referrals: int


@dataclass(frozen=True)
class DeliveryCount:
    destination: str
    deliveries: int
    delivered: int
    retries: int  # attempts after the first, summed
    dead: int
    waiting: int  # neither delivered nor dead yet (pending, retrying, in flight, held, ...)


@dataclass(frozen=True)
class CallbackCount:
    district: str
    urgency: str
    referrals: int
    met: int  # closed by the deadline
    late: int  # closed after it
    overdue: int  # still open past it
    open: int  # open, deadline still ahead (at the time of asking)


def referral_counts(
    conn: Connection, start: datetime, end: datetime, districts: Collection[str] | None
) -> list[ReferralCount]:
    r = referrals.c
    dims = [
        r.district,
        func.coalesce(r.ordering_unit, r.district),
        func.coalesce(r.main_category, UNKNOWN),
        func.coalesce(r.case_type, UNKNOWN),
        func.coalesce(r.case_class, UNKNOWN),
    ]
    where = [r.received_at >= start, r.received_at < end]
    if districts is not None:
        where.append(r.district.in_(sorted(districts)))
    query = select(*dims, func.count()).where(and_(*where)).group_by(*dims).order_by(*dims)
    return [
        ReferralCount(str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), int(row[5]))
        for row in conn.execute(query)
    ]


def calls_per_unit(
    conn: Connection, start: datetime, end: datetime, districts: Collection[str] | None
) -> dict[tuple[str, str], int]:
    """Referrals per (district, ordering unit): the chargeable calls of the range."""
    r = referrals.c
    unit = func.coalesce(r.ordering_unit, r.district)
    where = [r.received_at >= start, r.received_at < end]
    if districts is not None:
        where.append(r.district.in_(sorted(districts)))
    query = select(r.district, unit, func.count()).where(and_(*where)).group_by(r.district, unit)
    return {(d, u): n for d, u, n in conn.execute(query)}


def callback_counts(
    conn: Connection,
    start: datetime,
    end: datetime,
    districts: Collection[str] | None,
    now: datetime,
) -> list[CallbackCount]:
    r = referrals.c
    closed = r.closed_at.is_not(None)
    met = func.sum(case((and_(closed, r.closed_at <= r.deadline), 1), else_=0))
    late = func.sum(case((and_(closed, r.closed_at > r.deadline), 1), else_=0))
    overdue = func.sum(case((and_(~closed, r.deadline <= now), 1), else_=0))
    still_open = func.sum(case((and_(~closed, r.deadline > now), 1), else_=0))
    where = [r.received_at >= start, r.received_at < end]
    if districts is not None:
        where.append(r.district.in_(sorted(districts)))
    query = (
        select(r.district, r.urgency, func.count(), met, late, overdue, still_open)
        .where(and_(*where))
        .group_by(r.district, r.urgency)
        .order_by(r.district, r.urgency)
    )
    return [
        CallbackCount(d, u, n, int(m or 0), int(la or 0), int(o or 0), int(op or 0))
        for d, u, n, m, la, o, op in conn.execute(query)
    ]


def delivery_counts(
    conn: Connection, start: datetime, end: datetime, districts: Collection[str] | None
) -> list[DeliveryCount]:
    """Per destination, the deliveries of the messages the hub received in the range (a
    delivery is made with its message: its ``created_at`` is the message's ``received_at`` and
    its ``district`` the message's, so the messages are not read)."""
    d = deliveries.c
    delivered = func.sum(case((d.state == "delivered", 1), else_=0))
    dead = func.sum(case((d.state == "dead", 1), else_=0))
    retries = func.sum(case((d.attempts > 1, d.attempts - 1), else_=0))
    query = (
        select(d.destination, func.count(), delivered, retries, dead)
        .where(d.created_at >= start, d.created_at < end)
        .group_by(d.destination)
        .order_by(d.destination)
    )
    if districts is not None:
        query = query.where(d.district.in_(sorted(districts)))
    return [
        DeliveryCount(
            dest, n, int(ok or 0), int(rt or 0), int(dd or 0), n - int(ok or 0) - int(dd or 0)
        )
        for dest, n, ok, rt, dd in conn.execute(query)
    ]


def lookup_reasons(
    conn: Connection, start: datetime, end: datetime, districts: Collection[str] | None
) -> list[tuple[str, str]]:
    """``(district, reason)`` of each answered lookup (``queried``, ``ok``) in the range: the
    reason starts with the lookup's kind (``hub.services.lookups``), after ``protected_identity``
    where the confidentiality check let it through."""
    a = audit_entries.c
    where = [
        a.action == "queried",
        a.outcome == "ok",
        a.at >= format_at(start),
        a.at < format_at(end),
        a.district.is_not(None),
    ]
    if districts is not None:
        where.append(a.district.in_(sorted(districts)))
    query = select(a.district, a.reason).where(and_(*where))
    return [(district, reason or "") for district, reason in conn.execute(query)]

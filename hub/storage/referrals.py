"""Referral rows and business-key lookups (SQLAlchemy Core), for ``hub.referrals``.

Every function takes a ``Connection`` inside the caller's transaction and never commits: the
follow-up writes in ingest's transaction, the services read in theirs.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update

from hub.storage.tables import business_keys, referrals


@dataclass(frozen=True)
class ReferralRow:
    """One referral's follow-up, metadata only."""

    message_id: str
    district: str
    urgency: str
    registered_at: datetime | None
    received_at: datetime
    deadline: datetime
    closed_at: datetime | None
    closed_how: str | None
    closed_by: str | None

    def state(self, at: datetime) -> str:
        """``closed``, ``overdue`` (open past its deadline) or ``open``."""
        if self.closed_at is not None:
            return "closed"
        return "overdue" if at >= self.deadline else "open"

    def late_by(self, at: datetime) -> float:
        """Seconds past the deadline: at ``at`` if open, when it was closed otherwise."""
        end = self.closed_at or at
        return max(0.0, (end - self.deadline).total_seconds())


_FIELDS = tuple(f.name for f in fields(ReferralRow))  # the statistics' columns are read apart


def _row(row: Row[Any]) -> ReferralRow:
    r = row._mapping
    return ReferralRow(**{name: r[name] for name in _FIELDS})


def insert_keys(conn: Connection, rows: Sequence[tuple[str, str, str]]) -> None:
    """Business keys ``(message id, name, value)`` the hub derived itself."""
    if rows:
        conn.execute(
            insert(business_keys),
            [{"message_id": m, "name": n, "value": v} for m, n, v in dict.fromkeys(rows)],
        )


def insert_referrals(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    if rows:
        conn.execute(insert(referrals), list(rows))


def close_matching(
    conn: Connection,
    *,
    district: str,
    name: str,
    value: str,
    closed_at: datetime,
    how: str,
    by: str,
) -> int:
    """Close the open referrals of ``district`` whose business key ``name`` is ``value``."""
    matching = select(business_keys.c.message_id).where(
        business_keys.c.name == name, business_keys.c.value == value
    )
    result = conn.execute(
        update(referrals)
        .where(
            referrals.c.closed_at.is_(None),
            referrals.c.district == district,
            referrals.c.message_id.in_(matching),
        )
        .values(closed_at=closed_at, closed_how=how, closed_by=by)
    )
    return result.rowcount


def overdue(
    conn: Connection, at: datetime, districts: Collection[str] | None, limit: int
) -> list[ReferralRow]:
    """Open referrals past their deadline at ``at``, most overdue first."""
    query = (
        select(referrals)
        .where(referrals.c.closed_at.is_(None), referrals.c.deadline <= at)
        .order_by(referrals.c.deadline, referrals.c.message_id)
        .limit(limit)
    )
    if districts is not None:
        query = query.where(referrals.c.district.in_(sorted(districts)))
    return [_row(r) for r in conn.execute(query)]


def get(conn: Connection, message_id: str) -> ReferralRow | None:
    row = conn.execute(select(referrals).where(referrals.c.message_id == message_id)).first()
    return _row(row) if row else None


def with_key(conn: Connection, name: str, value: str) -> list[ReferralRow]:
    """The referrals whose message has business key ``name`` = ``value`` (exact match)."""
    matching = select(business_keys.c.message_id).where(
        business_keys.c.name == name, business_keys.c.value == value
    )
    query = (
        select(referrals)
        .where(referrals.c.message_id.in_(matching))
        .order_by(referrals.c.received_at)
    )
    return [_row(r) for r in conn.execute(query)]


def counts(conn: Connection, at: datetime, *, closed: bool = True) -> dict[str, dict[str, int]]:
    """Per district: how many referrals are ``open``, ``overdue`` and (unless ``closed`` is
    false: that count grows with the years, the others stay small) ``closed`` at ``at``."""
    is_open = referrals.c.closed_at.is_(None)
    out: dict[str, dict[str, int]] = {}
    conditions = [
        ("open", and_(is_open, referrals.c.deadline > at)),
        ("overdue", and_(is_open, referrals.c.deadline <= at)),
    ]
    if closed:
        conditions.append(("closed", referrals.c.closed_at.is_not(None)))
    for label, condition in conditions:
        query = (
            select(referrals.c.district, func.count())
            .where(condition)
            .group_by(referrals.c.district)
        )
        for district, n in conn.execute(query):
            out.setdefault(district, {"open": 0, "overdue": 0, "closed": 0})[label] = n
    return out

"""Rows of the log review (SQLAlchemy Core), for ``hub.services.log_review``.

Every function takes a ``Connection`` inside the caller's transaction and never commits. The
accesses a review reads come from the audit trail's own table; the referrals the
``no_referral`` rule needs are the trail's ``received`` entries of ``case.referral`` messages.
There is deliberately no function that updates or deletes a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select

from audit.entry import AuditAction, format_at, parse_at
from audit.tables import audit_entries
from hub.review.rules import REVIEWED_ACTIONS, Access
from hub.storage.tables import messages, review_items, review_samples, review_verdicts

REFERRAL_TYPE = "case.referral"


@dataclass(frozen=True)
class SampleRow:
    id: str
    district: str
    since: datetime
    until: datetime
    rules: str
    random_count: int
    assigned_to: str
    drawn_by: str
    drawn_at: datetime


@dataclass(frozen=True)
class VerdictRow:
    revision: int
    verdict: str
    note: str | None
    amend_reason: str | None
    decided_by: str
    decided_at: datetime


@dataclass(frozen=True)
class ItemRow:
    """An item with the audit entry it points at and its verdicts, oldest first."""

    id: int
    sample_id: str
    district: str
    assigned_to: str
    entry_seq: int
    rules: str
    note: str
    at: str
    actor: str
    action: str
    outcome: str
    subject_ref: str | None
    verdicts: tuple[VerdictRow, ...]

    @property
    def verdict(self) -> VerdictRow | None:
        return self.verdicts[-1] if self.verdicts else None


def _reviewable(district: str, since: datetime, until: datetime) -> ColumnElement[bool]:
    t = audit_entries.c
    return and_(
        t.district == district,
        t.at >= format_at(since),
        t.at < format_at(until),
        t.action.in_(sorted(REVIEWED_ACTIONS)),
        t.subject_ref.is_not(None),
    )


def accesses(conn: Connection, district: str, since: datetime, until: datetime) -> list[Access]:
    """The district's reviewable accesses in [since, until), in seq order."""
    t = audit_entries.c
    stmt = (
        select(t.seq, t.at, t.actor, t.action, t.outcome, t.subject_ref, t.reason)
        .where(_reviewable(district, since, until))
        .order_by(t.seq)
    )
    return [
        Access(seq, parse_at(at), actor, action, outcome, subject_ref, reason)
        for seq, at, actor, action, outcome, subject_ref, reason in conn.execute(stmt).all()
    ]


def referrals_received(
    conn: Connection, district: str, since: datetime, until: datetime
) -> list[tuple[str, datetime]]:
    """``(subject_ref, at)`` of every referral the district received in [since, until)."""
    t = audit_entries.c
    stmt = (
        select(t.subject_ref, t.at)
        .join(messages, messages.c.id == t.message_id)
        .where(
            t.district == district,
            t.action == AuditAction.RECEIVED.value,
            t.at >= format_at(since),
            t.at < format_at(until),
            t.subject_ref.is_not(None),
            messages.c.message_type == REFERRAL_TYPE,
        )
    )
    return [(r.subject_ref, parse_at(r.at)) for r in conn.execute(stmt)]


def already_picked(conn: Connection, district: str, since: datetime, until: datetime) -> set[int]:
    """Seqs of the district's entries in [since, until) that an earlier sample holds."""
    i, s, a = review_items.c, review_samples.c, audit_entries.c
    stmt = (
        select(i.entry_seq)
        .join(review_samples, s.id == i.sample_id)
        .join(audit_entries, a.seq == i.entry_seq)
        .where(s.district == district, a.at >= format_at(since), a.at < format_at(until))
    )
    return set(conn.execute(stmt).scalars())


def insert_sample(
    conn: Connection, sample: SampleRow, items: Iterable[tuple[int, str, str]]
) -> None:
    """The sample and its items ``(entry_seq, rules, note)``."""
    conn.execute(insert(review_samples).values(**sample.__dict__))
    rows = [
        {"sample_id": sample.id, "entry_seq": seq, "rules": rules, "note": note[:400]}
        for seq, rules, note in items
    ]
    if rows:
        conn.execute(insert(review_items), rows)


def get_sample(conn: Connection, sample_id: str) -> SampleRow | None:
    row = conn.execute(select(review_samples).where(review_samples.c.id == sample_id)).first()
    return None if row is None else SampleRow(**row._asdict())


def items(
    conn: Connection,
    *,
    districts: frozenset[str] | None,
    sample_id: str | None = None,
    item_id: int | None = None,
    district: str | None = None,
    period: tuple[datetime, datetime] | None = None,
) -> list[ItemRow]:
    """Items with their entries and verdicts, in the given scope (None: every district); with
    ``period``, only those whose entries lie in [since, until)."""
    i, s, a = review_items.c, review_samples.c, audit_entries.c
    stmt = (
        select(
            i.id,
            i.sample_id,
            s.district,
            s.assigned_to,
            i.entry_seq,
            i.rules,
            i.note,
            a.at,
            a.actor,
            a.action,
            a.outcome,
            a.subject_ref,
        )
        .join(review_samples, s.id == i.sample_id)
        .join(audit_entries, a.seq == i.entry_seq)
        .order_by(i.id)
    )
    for column, value in ((i.sample_id, sample_id), (i.id, item_id), (s.district, district)):
        if value is not None:
            stmt = stmt.where(column == value)
    if districts is not None:
        stmt = stmt.where(s.district.in_(sorted(districts)))
    if period is not None:
        stmt = stmt.where(a.at >= format_at(period[0]), a.at < format_at(period[1]))
    found = conn.execute(stmt).all()
    decided = _verdicts(conn, [r.id for r in found])
    return [ItemRow(**r._asdict(), verdicts=tuple(decided.get(r.id, ()))) for r in found]


def _verdicts(conn: Connection, item_ids: Sequence[int]) -> dict[int, list[VerdictRow]]:
    out: dict[int, list[VerdictRow]] = {}
    v = review_verdicts.c
    for chunk in range(0, len(item_ids), 500):
        stmt = (
            select(review_verdicts)
            .where(v.item_id.in_(item_ids[chunk : chunk + 500]))
            .order_by(v.item_id, v.revision)
        )
        for r in conn.execute(stmt):
            out.setdefault(r.item_id, []).append(
                VerdictRow(
                    r.revision, r.verdict, r.note, r.amend_reason, r.decided_by, r.decided_at
                )
            )
    return out


def insert_verdict(conn: Connection, item_id: int, verdict: VerdictRow) -> None:
    """A new revision; a revision another decider took first is an ``IntegrityError``."""
    conn.execute(insert(review_verdicts).values(item_id=item_id, **verdict.__dict__))


def count_accesses(conn: Connection, district: str, since: datetime, until: datetime) -> int:
    stmt = select(func.count()).where(_reviewable(district, since, until))
    return int(conn.execute(stmt).scalar_one())


def items_in_period(
    conn: Connection, district: str, since: datetime, until: datetime
) -> list[ItemRow]:
    """The district's items whose entries lie in [since, until)."""
    return items(conn, districts=None, district=district, period=(since, until))

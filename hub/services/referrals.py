"""Referral follow-up as the faces use it: overdue list, one referral, by case number, counts.

What a view shows is metadata only: the hub's message id, district, urgency, when the contact
centre registered it and the hub received it, the deadline, its state, how late, and how and
by which message it was closed. Never a name, an identity number or the case number: the case
number is stored only as a keyed HMAC (``schemas.business_keys``), so it cannot be shown, and
a listing has no need of it; someone who holds a case number finds its referrals with
:func:`referrals_for_case`, which HMACs the number and matches exactly.

Who may look: an operator (every district) and a district administrator (the districts of its
token); a referral of another district is absent (``NotFound``), and lists leave it out.
Every look at a referral is audited as ``viewed`` with the data subjects of its message (a
person's art. 15 extract shows who looked at the referral about them), in the same
transaction as the read. The per-district counts name no referral and are not audited
(``/metrics`` has open and overdue ones as ``omsorgshub_referrals{district,state}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from contracts.model import is_code
from hub.errors import InputError, NotFound
from hub.guards import AuditAction, AuditEvent, per_subject
from hub.services.messages import made_by_hub
from hub.services.principal import Kind, Principal
from hub.storage import messages as message_rows
from hub.storage import referrals as referral_rows
from hub.storage.referrals import ReferralRow

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "ReferralView",
    "open_referral_counts",
    "overdue_referrals",
    "referral_summary",
    "referrals_for_case",
    "show_referral",
]

_KINDS = (Kind.OPERATOR, Kind.DISTRICT_ADMIN)
MAX_LIST = 1000


@dataclass(frozen=True)
class ReferralView:
    """One referral's follow-up at ``at``, without personal data."""

    id: str  # the hub's message id of the referral
    district: str
    urgency: str
    registered_at: datetime | None
    received_at: datetime
    deadline: datetime
    state: str  # open | overdue | closed
    late_seconds: float  # past the deadline now (open) or when closed; 0 if in time
    closed_at: datetime | None
    closed_how: str | None
    closed_by: str | None
    at: datetime

    @classmethod
    def of(cls, row: ReferralRow, at: datetime) -> ReferralView:
        return cls(
            id=row.message_id,
            district=row.district,
            urgency=row.urgency,
            registered_at=row.registered_at,
            received_at=row.received_at,
            deadline=row.deadline,
            state=row.state(at),
            late_seconds=row.late_by(at),
            closed_at=row.closed_at,
            closed_how=row.closed_how,
            closed_by=row.closed_by,
            at=at,
        )


def _absent(referral_id: str) -> NotFound:
    text = f"no referral {referral_id!r}" if made_by_hub(referral_id) else "no such referral"
    return NotFound(text)


def _audit_looks(
    hub: Hub, conn: Connection, principal: Principal, rows: list[ReferralRow], why: str
) -> None:
    events: list[AuditEvent] = []
    refs = message_rows.subject_refs_for(conn, [r.message_id for r in rows])
    for row in rows:
        look = principal.did(
            AuditAction.VIEWED, district=row.district, message_id=row.message_id, reason=why
        )
        events += per_subject(look, refs.get(row.message_id, []))
    hub.guards.record(conn, events)


def overdue_referrals(
    hub: Hub,
    principal: Principal,
    *,
    district: str | None = None,
    at: datetime | None = None,
    limit: int = MAX_LIST,
) -> list[ReferralView]:
    """Open referrals past their deadline at ``at`` (now), of the principal's districts (or of
    ``district`` if given and in scope), most overdue first; each one audited."""
    principal.require(*_KINDS)
    moment = at or hub.clock()
    if district is not None and not is_code(district):
        raise InputError(f"district {district!r} must be 1-100 of A-Z a-z 0-9 . _ -")
    if district is not None and not principal.covers(district):
        return []  # out of scope: as if it had none
    scope = {district} if district is not None else principal.districts
    with hub.engine.begin() as conn:
        rows = referral_rows.overdue(conn, moment, scope, min(limit, MAX_LIST))
        _audit_looks(hub, conn, principal, rows, "referral follow-up: overdue list")
    return [ReferralView.of(r, moment) for r in rows]


def show_referral(
    hub: Hub, principal: Principal, referral_id: str, *, at: datetime | None = None
) -> ReferralView:
    """One referral by its hub message id (audited)."""
    principal.require(*_KINDS)
    if not made_by_hub(referral_id):
        raise _absent(referral_id)
    moment = at or hub.clock()
    with hub.engine.begin() as conn:
        row = referral_rows.get(conn, referral_id)
        if row is None or not principal.covers(row.district):
            raise _absent(referral_id)
        _audit_looks(hub, conn, principal, [row], "referral follow-up: shown")
    return ReferralView.of(row, moment)


def referrals_for_case(
    hub: Hub, principal: Principal, case_id: str, *, at: datetime | None = None
) -> list[ReferralView]:
    """The referrals of a contact-centre case number in scope (exact match on its HMAC)."""
    principal.require(*_KINDS)
    value = " ".join(case_id.split())
    if not value or len(value) > 200 or "\x00" in value:
        raise InputError("give the contact centre's case number, e.g. AD-2026-000123")
    moment = at or hub.clock()
    with hub.engine.begin() as conn:
        found = referral_rows.with_key(conn, "case_id", hub.guards.hmacs.business_key(value))
        rows = principal.only_visible(found, lambda r: r.district)
        _audit_looks(hub, conn, principal, rows, "referral follow-up: found by case number")
    return [ReferralView.of(r, moment) for r in rows]


def referral_summary(
    hub: Hub, principal: Principal, *, at: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Per district in scope: how many referrals are open, overdue and closed."""
    principal.require(*_KINDS)
    moment = at or hub.clock()
    with hub.reader.connect() as conn:
        counts = referral_rows.counts(conn, moment)
    return {d: c for d, c in sorted(counts.items()) if principal.covers(d)}


def open_referral_counts(hub: Hub) -> dict[str, dict[str, int]] | None:
    """Open and overdue referrals per district now, for ``/metrics`` (counts only); None when
    the database does not answer."""
    try:
        with hub.reader.connect() as conn:
            return referral_rows.counts(conn, hub.clock(), closed=False)
    except SQLAlchemyError:
        return None

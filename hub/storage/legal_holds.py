"""Legal holds' rows (``legal_holds``): place, lift, list. The retention job reads them through
``hub.storage.retention.held``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from hub.storage.tables import legal_holds

H = legal_holds.c


@dataclass(frozen=True)
class LegalHold:
    id: str
    district: str
    subject_ref: str | None  # None: the whole district
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None
    lift_reason: str | None

    @property
    def active(self) -> bool:
        return self.lifted_at is None


def insert(conn: Connection, hold: LegalHold) -> None:
    conn.execute(
        legal_holds.insert().values(
            id=hold.id,
            district=hold.district,
            subject_ref=hold.subject_ref,
            reason=hold.reason,
            placed_by=hold.placed_by,
            placed_at=hold.placed_at,
        )
    )


def get(conn: Connection, hold_id: str) -> LegalHold | None:
    row = conn.execute(select(legal_holds).where(H.id == hold_id)).first()
    return LegalHold(**row._mapping) if row is not None else None


def lift(conn: Connection, hold_id: str, by: str, reason: str, now: datetime) -> bool:
    """Lift a hold not yet lifted; False if it was lifted already (by another call)."""
    done = conn.execute(
        update(legal_holds)
        .where(H.id == hold_id, H.lifted_at.is_(None))
        .values(lifted_at=now, lifted_by=by, lift_reason=reason)
    )
    return bool(done.rowcount == 1)


def listing(
    conn: Connection, districts: frozenset[str] | None, *, include_lifted: bool
) -> list[LegalHold]:
    query = select(legal_holds).order_by(H.placed_at, H.id)
    if districts is not None:
        query = query.where(H.district.in_(sorted(districts)))
    if not include_lifted:
        query = query.where(H.lifted_at.is_(None))
    return [LegalHold(**r._mapping) for r in conn.execute(query)]

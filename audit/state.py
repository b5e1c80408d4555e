"""The trail's state at a glance, for a data-protection officer: the last verification and
its outcome, the last signed checkpoint and how many entries came after it (chained, but not
yet vouched for by a signature that left the database).

Three small queries; nothing here verifies anything (``audit.verify`` does, and records an
``audit_verified`` entry that this reads back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from audit.entry import AuditAction, parse_at
from audit.tables import HEAD_ID, audit_checkpoints, audit_entries, audit_head


@dataclass(frozen=True)
class TrailState:
    last_seq: int
    last_checkpoint_seq: int
    last_checkpoint_at: datetime | None
    verified_at: datetime | None  # the last ``audit_verified`` entry
    verified_outcome: str | None
    verified_problem: str | None

    @property
    def unsigned(self) -> int:
        """Entries after the last checkpoint."""
        return max(0, self.last_seq - self.last_checkpoint_seq)

    def checkpoint_age(self, now: datetime) -> float | None:
        """Seconds since the last checkpoint was signed (None: there is none yet)."""
        if self.last_checkpoint_at is None:
            return None
        return (now - self.last_checkpoint_at).total_seconds()


def trail_state(conn: Connection) -> TrailState:
    head = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == HEAD_ID)).scalar()
    cp = conn.execute(
        select(audit_checkpoints.c.seq, audit_checkpoints.c.at)
        .order_by(audit_checkpoints.c.seq.desc())
        .limit(1)
    ).first()
    t = audit_entries.c
    verified = conn.execute(
        select(t.at, t.outcome, t.reason)
        .where(t.action == AuditAction.AUDIT_VERIFIED.value)
        .order_by(t.seq.desc())
        .limit(1)
    ).first()
    return TrailState(
        last_seq=int(head or 0),
        last_checkpoint_seq=int(cp.seq) if cp else 0,
        last_checkpoint_at=parse_at(cp.at) if cp else None,
        verified_at=parse_at(verified.at) if verified else None,
        verified_outcome=verified.outcome if verified else None,
        verified_problem=verified.reason if verified else None,
    )


def oldest_unsigned_at(conn: Connection, state: TrailState) -> datetime | None:
    """When the first entry after the last checkpoint was appended (None: all are signed):
    how long the trail's tail has gone unwitnessed, for the overdue-checkpoint alert."""
    if state.unsigned == 0:
        return None
    at = conn.execute(
        select(audit_entries.c.at).where(audit_entries.c.seq == state.last_checkpoint_seq + 1)
    ).scalar()
    return parse_at(at) if at is not None else None

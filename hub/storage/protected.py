"""Protected identities as the case system marked them (table ``protected_identities``).

The case system says, in each client summary, whether the person's identity is protected
(sekretessmarkering, skyddad folkbokföring). The hub keeps what it was last told, per district
and keyed HMAC of the person (never the number), so that ingest can refuse a message about such a
person without asking the case system for every message. The case system's own list of the
persons it marks (``hub.services.protected_sync``) replaces a district's marks as a whole:
:func:`district_marks` reads them, :func:`record_mark` and :func:`lift_marks` change them.
:class:`ProtectedMarks` is what
``hub.guards`` reads; the functions take the caller's ``Connection`` and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from contracts.cache import ConnectionSource
from hub.storage.tables import protected_identities as marked_table


def record_mark(
    conn: Connection,
    *,
    district: str,
    subject_ref: str,
    kind: str | None,
    at: datetime,
    source: str,
) -> None:
    """What the case system said now: ``kind`` marks (or re-marks) the person, ``None`` lifts a
    mark. Two hubs marking the same person at once: the primary key keeps one row, and the
    savepoint lets the loser's transaction (its audit entry) go on."""
    where = (marked_table.c.district == district) & (marked_table.c.subject_ref == subject_ref)
    if kind is None:
        conn.execute(delete(marked_table).where(where))
        return
    values = {"kind": kind, "marked_at": at, "source": source}
    if conn.execute(update(marked_table).where(where).values(**values)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(marked_table).values(district=district, subject_ref=subject_ref, **values)
            )
    except IntegrityError:
        pass  # the other hub's row says the same


_CHUNK = 500  # subject refs per IN (...): well inside every engine's parameter limit


def district_marks(conn: Connection, district: str) -> dict[str, str]:
    """Every marked person of ``district``: keyed HMAC → kind (a few thousand at most)."""
    rows = conn.execute(
        select(marked_table.c.subject_ref, marked_table.c.kind).where(
            marked_table.c.district == district
        )
    )
    return {ref: kind for ref, kind in rows}


def marked_counts(conn: Connection, districts: Iterable[str] | None) -> dict[str, int]:
    """How many persons each district marks now (``None``: every district), counts only."""
    stmt = select(marked_table.c.district, func.count()).group_by(marked_table.c.district)
    if districts is not None:
        stmt = stmt.where(marked_table.c.district.in_(sorted(districts)))
    return {district: int(n) for district, n in conn.execute(stmt)}


def lift_marks(conn: Connection, district: str, subject_refs: Sequence[str]) -> None:
    """The case system no longer marks these persons of ``district``."""
    refs = sorted(set(subject_refs))
    for start in range(0, len(refs), _CHUNK):
        conn.execute(
            delete(marked_table).where(
                (marked_table.c.district == district)
                & marked_table.c.subject_ref.in_(refs[start : start + _CHUNK])
            )
        )


def marks(conn: Connection, district: str, subject_refs: Sequence[str]) -> dict[str, str]:
    """The marked persons among ``subject_refs``: keyed HMAC → kind."""
    refs = sorted(set(subject_refs))
    found: dict[str, str] = {}
    for start in range(0, len(refs), _CHUNK):
        rows = conn.execute(
            select(marked_table.c.subject_ref, marked_table.c.kind).where(
                (marked_table.c.district == district)
                & marked_table.c.subject_ref.in_(refs[start : start + _CHUNK])
            )
        )
        found.update((ref, kind) for ref, kind in rows)
    return found


class ProtectedMarks:
    """The confidentiality check's source for ``hub.guards``: reads by primary key, one per
    district of an ingest batch (inside its write transaction) or of a lookup."""

    def marked(
        self, source: ConnectionSource, district: str, subject_refs: Sequence[str]
    ) -> Mapping[str, str]:
        if not subject_refs:
            return {}
        if isinstance(source, Connection):
            return marks(source, district, subject_refs)
        with source() as conn:
            return marks(conn, district, subject_refs)

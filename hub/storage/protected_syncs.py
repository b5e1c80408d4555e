"""The last sync of each district's protected-identity marks (table ``protected_syncs``).

``hub.services.protected_sync`` writes one row per district at every run, in the transaction
that holds the run's ``protection_synced`` audit entry; ``hub.services.protected_status``
reads them. Two hubs syncing at once: each run's row is written whole, the later one stays
(the savepoint lets an insert that lost the race go on as an update).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub.storage.tables import protected_syncs as syncs


@dataclass(frozen=True)
class SyncRow:
    district: str
    destination: str
    synced_at: datetime
    ok: bool
    detail: str  # the counts, or the failure's reason
    last_ok_at: datetime | None
    failures: int  # failed runs since the last success


def record_sync(
    conn: Connection, *, district: str, destination: str, at: datetime, ok: bool, detail: str
) -> None:
    """One run of ``district``: a success clears the failures, a failure adds one."""
    where = syncs.c.district == district
    values = {
        "destination": destination,
        "synced_at": at,
        "outcome": "ok" if ok else "failed",
        "detail": detail[:200],
    }
    changes = (
        {**values, "last_ok_at": at, "failures": 0}
        if ok
        else {**values, "failures": syncs.c.failures + 1}
    )
    if conn.execute(update(syncs).where(where).values(**changes)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(
                insert(syncs).values(
                    district=district,
                    last_ok_at=at if ok else None,
                    failures=0 if ok else 1,
                    **values,
                )
            )
    except IntegrityError:  # another hub's first row came first: this run is the later one
        conn.execute(update(syncs).where(where).values(**changes))


def sync_rows(conn: Connection, districts: Iterable[str] | None) -> dict[str, SyncRow]:
    """The last run per district (``None``: every district)."""
    stmt = select(syncs)
    if districts is not None:
        stmt = stmt.where(syncs.c.district.in_(sorted(districts)))
    return {
        r.district: SyncRow(
            district=r.district,
            destination=r.destination,
            synced_at=r.synced_at,
            ok=r.outcome == "ok",
            detail=r.detail,
            last_ok_at=r.last_ok_at,
            failures=r.failures,
        )
        for r in conn.execute(stmt)
    }

"""The protected-identity marks per district, as a district's steward sees them: how many
persons its case system marks now, and when the hub last synced them and whether that failed.

Counts and times only, never a person: every role that looks after a district may read it (an
operator, a hub or district administrator, a data-protection officer), within its districts.
The districts shown are those whose case system lists protected persons
(``hub.services.protected_sync.sources``), those with marks or an earlier sync, and the
principal's own. The read is audited, one ``protection_reported`` entry per district shown, as
retention's status and the log review's report are. The API (``GET /api/v1/protected``), the
console (``/console/compliance/protected``) call it; the sync itself is
``hub.services.protected_sync``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from hub.guards import AuditAction
from hub.services.principal import Kind, Principal
from hub.services.protected_sync import sources
from hub.storage.protected import marked_counts
from hub.storage.protected_syncs import sync_rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = ["DistrictProtection", "ProtectedStatus", "protected_status"]


@dataclass(frozen=True)
class DistrictProtection:
    district: str
    source: str | None  # the case system the sync asks; None: none lists protected persons
    marked: int  # persons marked now (by the sync or a lookup)
    synced_at: datetime | None  # the last sync, ok or failed; None: never synced
    ok: bool | None  # whether the last sync succeeded; None: never synced
    detail: str | None  # its counts, or the failure's reason code
    last_ok_at: datetime | None
    failures: int  # failed syncs since the last success

    def summary(self) -> str:
        """The audit entry's reason: counts and the outcome, no person."""
        if self.synced_at is None:
            return f"status: {self.marked} marked, never synced"
        outcome = "ok" if self.ok else f"failed ({self.failures} since the last success)"
        return f"status: {self.marked} marked, last sync {outcome}"


@dataclass(frozen=True)
class ProtectedStatus:
    at: datetime
    districts: list[DistrictProtection]


def protected_status(hub: Hub, principal: Principal) -> ProtectedStatus:
    principal.require(Kind.OPERATOR, Kind.HUB_ADMIN, Kind.DPO, Kind.DISTRICT_ADMIN)
    scope = principal.districts
    asked = dict(sources(hub, principal))
    with hub.reader.connect() as conn:
        marked = marked_counts(conn, scope)
        runs = sync_rows(conn, scope)
    names = sorted(set(asked) | set(marked) | set(runs) | set(scope or ()))
    shown: list[DistrictProtection] = []
    for name in names:
        run = runs.get(name)
        shown.append(
            DistrictProtection(
                district=name,
                source=asked.get(name),
                marked=marked.get(name, 0),
                synced_at=run.synced_at if run else None,
                ok=run.ok if run else None,
                detail=run.detail if run else None,
                last_ok_at=run.last_ok_at if run else None,
                failures=run.failures if run else 0,
            )
        )
    events = [
        principal.did(AuditAction.PROTECTION_REPORTED, district=d.district, reason=d.summary())
        for d in shown
    ] or [principal.did(AuditAction.PROTECTION_REPORTED, reason="status: no district")]
    with hub.engine.begin() as conn:
        hub.guards.record(conn, events)
    return ProtectedStatus(at=hub.clock(), districts=shown)

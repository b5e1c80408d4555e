"""The record of processing activities (GDPR art. 30) of the principal's districts, generated
from the agreements in force (``hub.records``): rows for a CSV, and a PDF.

No personal data: an agreement names systems, purposes and categories, never a person (the DPO
contact is a function's address). Who may ask: an operator, a district administrator and a
data-protection officer, of their districts. Every run is audited (``exported``, reason
``art30 record``), one entry per district it covers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from hub.guards import AuditAction
from hub.records.pdf import record_pdf
from hub.records.processing import RecordRow, in_force, record_rows
from hub.services.agreements import contracts_errors
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub

_KINDS = (Kind.OPERATOR, Kind.DISTRICT_ADMIN, Kind.DPO)


@dataclass(frozen=True)
class ProcessingRecord:
    at: datetime
    rows: list[RecordRow]

    def pdf(self) -> bytes:
        return record_pdf(
            f"Record of processing activities (GDPR art. 30), {self.at:%Y-%m-%d}", self.rows
        )


def processing_record(
    hub: Hub, principal: Principal, *, district: str | None = None, at: datetime | None = None
) -> ProcessingRecord:
    """The record as of ``at`` (default now): one row per agreement in force then."""
    principal.require(*_KINDS)
    if district is not None:
        principal.visible(district, f"no district {district!r} in scope")
    moment = at or hub.clock()
    with contracts_errors(), hub.engine.begin() as conn:
        current = [
            a
            for a in in_force(hub.agreement_store.list_current(conn), moment)
            if principal.covers(a.district) and district in (None, a.district)
        ]
        rows = record_rows(current)
        named: list[str | None] = [*sorted({r.district for r in rows})] or [district]
        hub.guards.record(
            conn,
            [principal.did(AuditAction.EXPORTED, district=d, reason="art30 record") for d in named],
        )
    return ProcessingRecord(moment, rows)

"""The audit trail as a data-protection officer reads it: search, a person's art. 15 report,
and the export for offline verification. Each of these is itself audited, in the same
transaction as the read (``audit_searched``, ``exported``, ``audit_exported``).

Verification lives beside this module (``hub.services.audit_integrity``). A search by a
principal scoped to districts returns only its districts' entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audit.entry import AuditEntry
from audit.report import SubjectReport, subject_report, to_csv, to_pdf
from audit.search import AuditQuery, OutputFormat, format_entries, search
from audit.verify import write_export
from hub.errors import InputError
from hub.guards import AuditAction
from hub.ingest.identity import parse_identity
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "AuditEntry",
    "AuditFilter",
    "OutputFormat",
    "SubjectReport",
    "export_audit",
    "render_entries",
    "report",
    "report_document",
    "search_audit",
]


@dataclass(frozen=True)
class AuditFilter:
    """What a face can ask for; a subject is an identity number, searched by its keyed HMAC."""

    subject: str | None = None
    scheme: str = "se"
    actor: str | None = None
    district: str | None = None
    message_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000


def _subject_ref(hub: Hub, subject: str, scheme: str) -> str:
    return str(hub.guards.hmacs.subject_ref(parse_identity(subject, scheme).canonical))


def search_audit(hub: Hub, principal: Principal, f: AuditFilter) -> list[AuditEntry]:
    """Search the trail; the search itself is audited."""
    principal.require(Kind.OPERATOR)
    if not any([f.subject, f.actor, f.district, f.message_id, f.since, f.until]):
        raise InputError("give at least one filter (--subject, --actor, --district, …)")
    query = AuditQuery(
        subject_ref=_subject_ref(hub, f.subject, f.scheme) if f.subject else None,
        actor=f.actor,
        district=f.district,
        districts=principal.districts,
        message_id=f.message_id,
        since=f.since,
        until=f.until,
        limit=f.limit,
    )
    with hub.engine.begin() as conn:
        found = search(conn, query)
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.AUDIT_SEARCHED,
                    district=f.district,
                    message_id=f.message_id,
                    subject_ref=query.subject_ref,
                    reason=f"{len(found)} entries",
                )
            ],
        )
    return found


def render_entries(entries: list[AuditEntry], fmt: OutputFormat) -> str:
    """Entries as a table, CSV or JSON lines, for a face to print."""
    return format_entries(entries, fmt)


def report_document(hub: Hub, principal: Principal, subject: str, scheme: str, fmt: str) -> bytes:
    """The art. 15 extract as a document: ``fmt`` is csv or pdf (audited as ``report``)."""
    extract = report(hub, principal, subject, scheme, fmt)
    return to_pdf(extract) if fmt == "pdf" else to_csv(extract).encode()


def report(hub: Hub, principal: Principal, subject: str, scheme: str, fmt: str) -> SubjectReport:
    """The GDPR art. 15 extract of one person; ``fmt`` (csv, pdf) is recorded in the audit."""
    principal.require(Kind.OPERATOR)  # a whole person's extract crosses districts
    ref = _subject_ref(hub, subject, scheme)
    with hub.engine.begin() as conn:
        extract = subject_report(conn, ref)
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.EXPORTED,
                    subject_ref=ref,
                    reason=f"art. 15 subject report ({fmt}, {len(extract.accesses)} accesses)",
                )
            ],
        )
    return extract


def export_audit(hub: Hub, principal: Principal, output: Path) -> int:
    """Write the whole trail (JSON lines) for offline verification; returns the entry count.
    The export's own entry is committed first, so the file includes it."""
    principal.require(Kind.OPERATOR)
    with hub.engine.begin() as conn:
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.AUDIT_EXPORTED,
                )
            ],
        )
    with hub.reader.connect() as conn:
        return write_export(conn, output)

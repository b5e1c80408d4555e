"""The audit trail as a data-protection officer reads it: search, a person's art. 15 report,
and the export for offline verification. Each of these is itself audited, in the same
transaction as the read (``audit_searched``, ``exported``, ``audit_exported``).

Verification lives beside this module (``hub.services.audit_integrity``). The operator at the
hub's command line or a data-protection officer (``Kind.DPO``) searches and reports
(``require_reader``); a principal scoped to districts gets only its districts' entries (a
person's extract too). The export is hub-wide.
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
from hub.errors import InputError, NotFound
from hub.guards import AuditAction
from hub.ingest.identity import parse_identity
from hub.services.principal import Kind, Principal

if TYPE_CHECKING:
    from hub.bootstrap import Hub

# What a face may offer to search by action.
AUDIT_ACTIONS: tuple[str, ...] = tuple(a.value for a in AuditAction)

__all__ = [
    "AUDIT_ACTIONS",
    "AuditEntry",
    "AuditFilter",
    "OutputFormat",
    "SubjectReport",
    "audit_entry",
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
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000
    newest_first: bool = False


def require_reader(principal: Principal) -> None:
    """Who reads the trail: a data-protection officer (the districts of the role) or the
    operator at the hub's command line (every district). An operator of the console, scoped
    to districts, runs deliveries and does not read the trail."""
    if principal.kind is Kind.OPERATOR:
        principal.require_hub_wide(Kind.OPERATOR)
    else:
        principal.require(Kind.DPO)


def _subject_ref(hub: Hub, subject: str, scheme: str) -> str:
    return str(hub.guards.hmacs.subject_ref(parse_identity(subject, scheme).canonical))


def _action(name: str | None) -> AuditAction | None:
    if not name:
        return None
    try:
        return AuditAction(name)
    except ValueError:
        known = ", ".join(a.value for a in AuditAction)
        raise InputError(f"no audit action {name!r}; known: {known}") from None


def search_audit(hub: Hub, principal: Principal, f: AuditFilter) -> list[AuditEntry]:
    """Search the trail; the search itself is audited. A data-protection officer searches
    the entries of its districts."""
    require_reader(principal)
    if not any([f.subject, f.actor, f.district, f.message_id, f.action, f.since, f.until]):
        raise InputError("give at least one filter (--subject, --actor, --district, …)")
    query = AuditQuery(
        subject_ref=_subject_ref(hub, f.subject, f.scheme) if f.subject else None,
        actor=f.actor,
        district=f.district,
        districts=principal.districts,
        message_id=f.message_id,
        action=_action(f.action),
        since=f.since,
        until=f.until,
        limit=f.limit,
        newest_first=f.newest_first,
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
    require_reader(principal)  # scoped: the extract of the principal's districts only
    ref = _subject_ref(hub, subject, scheme)
    with hub.engine.begin() as conn:
        extract = subject_report(conn, ref, districts=principal.districts)
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


def audit_entry(hub: Hub, principal: Principal, seq: int) -> AuditEntry:
    """One entry of the principal's districts (an entry of another district, or of none, is
    absent to a scoped principal); looking at it is audited as a search."""
    require_reader(principal)
    absent = NotFound(f"no audit entry {seq}", reason="audit_entry_not_found")
    with hub.engine.begin() as conn:
        found = search(conn, AuditQuery(seq=seq, districts=principal.districts, limit=1))
        if not found:
            raise absent
        hub.guards.record(
            conn,
            [
                principal.did(
                    AuditAction.AUDIT_SEARCHED,
                    district=found[0].district,
                    message_id=found[0].message_id,
                    subject_ref=found[0].subject_ref,
                    reason=f"entry {seq} viewed",
                )
            ],
        )
    return found[0]


def export_audit(hub: Hub, principal: Principal, output: Path) -> int:
    """Write the whole trail (JSON lines) for offline verification; returns the entry count.
    The export's own entry is committed first, so the file includes it."""
    principal.require_hub_wide(Kind.OPERATOR)  # every district's entries
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

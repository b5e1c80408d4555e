"""A quarter's IVO reports: the officer's worklist (CSV and PDF) and the submission.

Both first bring the tracking up to date (``hub.services.ivo_tracking``), then read the
district's tracked decisions, apply the due rules (``hub.ivo.due``) and make one row per
due decision (``hub.ivo.worklist``). Reading the tracked decisions is audited in the same
transaction: one ``exported`` entry per person reported, with the quarter and what it was for.
Both need an agreement of the district that lets the hub's own identity (``ivo_sender``) send
``ivo.individual_report`` for the purpose ``ivo_purpose``: without one, nothing is read.

The submission turns each complete row into an ``ivo.individual_report`` message through the
hub's own ingest (``hub.ivo.submission``): routed to the destination with adapter ``ivo``, so
the outbox's retries, audit and exactly-once apply; a row with missing fields is listed, never
sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import ConfigError, HubError, IdempotencyConflict, KeyShredded
from hub.guards import AuditAction
from hub.ivo.due import report_for
from hub.ivo.legal import parse_references
from hub.ivo.model import Quarter, ReportState
from hub.ivo.pdf import worklist_pdf
from hub.ivo.submission import report_envelope
from hub.ivo.worklist import REPORT_TYPE, REPORT_VERSION, Reporter, Row, build_row, write_csv
from hub.services.ivo_tracking import TrackResult, open_tracked, track_events
from hub.services.principal import Kind, Principal
from hub.storage import ivo as ivo_rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

Progress = Callable[[str, int, int], None]  # (stage, done, total)
_STATE_ORDER = {s: i for i, s in enumerate(ReportState)}


@dataclass(frozen=True)
class Worklist:
    district: str
    quarter: str
    rows: list[Row]
    tracked: TrackResult
    files: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # decisions under a shredded key

    @property
    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in ReportState}
        for row in self.rows:
            counts[row.state.value] += 1
        return counts

    @property
    def incomplete(self) -> list[Row]:
        return [r for r in self.rows if not r.complete]


def reporter_for(hub: Hub, district: str) -> Reporter:
    s = hub.settings
    if not s.ivo_municipality.strip():
        raise ConfigError(
            "IVO reports need the municipality: set ivo_municipality", key="ivo_municipality"
        )
    names: dict[str, str] = {}
    for entry in s.ivo_administrations.split(";"):
        key, sep, name = entry.partition("=")
        if entry.strip() and (not sep or not name.strip()):
            raise ConfigError(
                f"ivo_administrations: {entry.strip()!r} is not DISTRICT=NAME",
                key="ivo_administrations",
            )
        if sep:
            names[key.strip()] = name.strip()
    name = names.get(district) or names.get("*") or ""
    if not name:
        raise ConfigError(
            f"no IVO administration for district {district!r}: set ivo_administrations "
            f"(e.g. {district}=Vård- och omsorgsnämnden, or *=…)",
            key="ivo_administrations",
        )
    return Reporter(s.ivo_municipality.strip(), name, parse_references(s.ivo_legal_references))


def _check_agreement(hub: Hub, district: str) -> None:
    """Refuses (``ContractRefusal``) unless an agreement allows the hub's own reports."""
    categories = sorted(hub.registry.get(REPORT_TYPE, REPORT_VERSION).categories)
    with hub.reader.connect() as conn:
        hub.guards.check_ingest(
            conn,
            district=district,
            sender=hub.settings.ivo_sender,
            purpose=hub.settings.ivo_purpose,
            message_type=REPORT_TYPE,
            categories=categories,
            consent=False,
            recipients=(),
            at=hub.clock(),
        )


def _rows(
    hub: Hub,
    principal: Principal,
    district: str,
    quarter: Quarter,
    *,
    reason: str,
    destination: str,
    progress: Progress | None,
) -> tuple[list[Row], dict[str, tuple[str, str]], list[str]]:
    """The due rows, per reference the person as ``(scheme, number)`` (kept in memory), and
    the decisions that cannot be read any more (their key version was shredded)."""
    reporter = reporter_for(hub, district)
    _check_agreement(hub, district)
    rows: list[Row] = []
    subjects: dict[str, tuple[str, str]] = {}
    unreadable: list[str] = []
    months = hub.settings.ivo_period_months
    with hub.engine.begin() as conn:
        stored = ivo_rows.decisions(conn, district)
        events = []
        for done, stored_row in enumerate(stored, start=1):
            try:
                tracked = open_tracked(hub, conn, stored_row)
            except KeyShredded:
                unreadable.append(stored_row.decision_id)
                continue
            due = report_for(tracked.decision, quarter, months)
            if due is not None:
                row = build_row(tracked.decision, due, quarter, reporter)
                rows.append(row)
                subjects[row.reference] = (tracked.scheme, tracked.subject)
            # every read is audited: exported if reported, decrypted if only checked
            events.append(
                principal.did(
                    AuditAction.EXPORTED if due is not None else AuditAction.DECRYPTED,
                    purpose=hub.settings.ivo_purpose,
                    district=district,
                    subject_ref=stored_row.subject_ref,
                    destination=destination if due is not None else None,
                    reason=f"{reason} {quarter}: decision {stored_row.decision_id}"
                    + ("" if due is not None else " checked, not due"),
                )
            )
            if progress is not None and (done % 200 == 0 or done == len(stored)):
                progress("read", done, len(stored))
        hub.guards.record(conn, events)
    rows.sort(key=lambda r: (_STATE_ORDER[r.state], r.decision_date, r.decision_id))
    return rows, subjects, unreadable


def _current(
    hub: Hub,
    principal: Principal,
    district: str,
    quarter: str,
    destination: str,
    progress: Progress | None,
) -> tuple[Quarter, TrackResult, list[Row], dict[str, tuple[str, str]], list[str]]:
    """Tracking brought up to date, then the quarter's rows (read for ``destination``: the
    worklist, or the submission, whose reads name the destinations routed for the reports)."""
    principal.require(Kind.OPERATOR, Kind.DISTRICT_ADMIN)
    principal.visible(district, f"no district {district!r}")
    q = Quarter.parse(quarter)
    reason = "IVO worklist" if destination == "worklist" else "IVO submission"
    if destination != "worklist":  # no route for the reports: refused before anything is read
        destination = ",".join(hub.routing.destinations_for(REPORT_TYPE, district))
    tracked = track_events(hub, principal)
    rows, subjects, unreadable = _rows(
        hub, principal, district, q, reason=reason, destination=destination, progress=progress
    )
    return q, tracked, rows, subjects, unreadable


def build_worklist(
    hub: Hub,
    principal: Principal,
    district: str,
    quarter: str,
    *,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> Worklist:
    """The quarter's worklist; with ``out_dir``, also written there as CSV and PDF."""
    q, tracked, rows, _, unreadable = _current(
        hub, principal, district, quarter, "worklist", progress
    )
    files: list[Path] = []
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = out_dir / f"ivo-{district}-{q}"
        write_csv(stem.with_suffix(".csv"), rows)
        title = f"IVO individual reports {q}, {district}"

        def pdf_progress(done: int) -> None:
            if progress is not None and (done % 200 == 0 or done == len(rows)):
                progress("pdf", done, len(rows))

        stem.with_suffix(".pdf").write_bytes(worklist_pdf(title, rows, pdf_progress))
        files = [stem.with_suffix(".csv"), stem.with_suffix(".pdf")]
    return Worklist(district, str(q), rows, tracked, files, unreadable)


@dataclass(frozen=True)
class Submission:
    worklist: Worklist
    submitted: list[str]  # references stored now
    repeated: list[str]  # submitted before: nothing new stored
    failed: list[tuple[str, str]]  # (reference, reason)


def submit_reports(
    hub: Hub,
    principal: Principal,
    district: str,
    quarter: str,
    *,
    progress: Progress | None = None,
) -> Submission:
    """Send the quarter's complete reports through the hub's ingest; list the incomplete."""
    q, tracked, rows, subjects, unreadable = _current(
        hub, principal, district, quarter, "submission", progress
    )
    complete = [r for r in rows if r.complete]
    purpose = hub.settings.ivo_purpose
    submitted: list[str] = []
    repeated: list[str] = []
    failed: list[tuple[str, str]] = []
    for start in range(0, len(complete), 200):
        chunk = complete[start : start + 200]
        documents = [report_envelope(r, purpose, subjects[r.reference]) for r in chunk]
        for row, outcome in zip(
            chunk, hub.ingestor.ingest_many(hub.settings.ivo_sender, documents), strict=True
        ):
            if isinstance(outcome, IdempotencyConflict):
                failed.append((row.reference, "submitted before with other content"))
            elif isinstance(outcome, HubError):
                failed.append((row.reference, str(outcome)))
            elif outcome.duplicate:
                repeated.append(row.reference)
            else:
                submitted.append(row.reference)
        if progress is not None:
            progress("submit", start + len(chunk), len(complete))
    worklist = Worklist(district, str(q), rows, tracked, unreadable=unreadable)
    return Submission(worklist, submitted, repeated, failed)

"""A quarter's individual reports: one row per due decision, as CSV and as IVO's message.

A row has the fields of ``ivo.individual_report`` v1, filled only from what the case system
sent; a field IVO needs that it did not send is named in ``missing`` for an officer to
complete, and such a row is never submitted. The identity number is in no column: the person
is IVO's code (``hub.ivo.codes``), with a protected identity stated in the free text as IVO
asks.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lxml import etree

from hub.ivo.due import Due
from hub.ivo.legal import Reference, reference_for
from hub.ivo.model import Decision, Quarter, ReportState

IVO_NS = "urn:omsorgshub:ivo.individual_report:1"
REPORT_TYPE = "ivo.individual_report"
REPORT_VERSION = "1"
PROTECTED_TEXT = "Skyddade personuppgifter."  # as the ivo robot writes it
OFFER_ROWS = 10  # IVO's form has ten rows of offers: the newest ten are reported

_KINDS = {
    ReportState.NEW: "not_executed",
    ReportState.STILL_NOT_EXECUTED: "not_executed",
    ReportState.EXECUTED: "executed",
    ReportState.CLOSED: "closed",
}


@dataclass(frozen=True)
class Reporter:
    """Who reports: the municipality and the district's committee or administration."""

    municipality: str
    administration: str
    references: tuple[Reference, ...] = ()


@dataclass(frozen=True)
class Row:
    district: str
    quarter: str
    state: ReportState
    reference: str
    municipality: str
    administration: str
    code: str
    gender: str
    protected: bool
    law: str
    legal_reference: str | None
    intervention: str | None
    decision_id: str
    decision_date: date
    due_on: date
    interruption_date: date | None
    partly_executed_on: date | None
    part_not_executed: str | None
    delay_reason: str | None
    consequences: str | None
    offers: tuple[tuple[date, str], ...]
    interim_measures: str | None
    execution_date: date | None
    closing_date: date | None
    closing_reason: str | None
    referral_case_id: str | None
    missing: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> str:
        return _KINDS[self.state]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def details(self) -> str | None:
        """The free text the report itself carries: a partial execution and its part not
        carried out (the robot puts IVO's protected-identity notice before it)."""
        if self.partly_executed_on is None:
            return None
        part = (self.part_not_executed or "").rstrip(".")
        rest = f" Ej verkställd del: {part}." if part else ""
        return f"Delvis verkställt {self.partly_executed_on.isoformat()}.{rest}"

    @property
    def free_text(self) -> str | None:
        """The free text as IVO will read it, protected-identity notice first."""
        parts = [PROTECTED_TEXT] if self.protected else []
        parts += [self.details] if self.details else []
        return " ".join(parts) or None


def reference_of(district: str, decision_id: str, quarter: str, kind: str) -> str:
    """The report's own reference: one per decision, quarter and kind (64 characters max)."""
    digest = hashlib.sha256(f"{district}\x1f{decision_id}".encode()).hexdigest()[:20]
    return f"OH-{quarter}-{kind}-{digest}"


def build_row(decision: Decision, due: Due, quarter: Quarter, reporter: Reporter) -> Row:
    """The report row of a due decision: what the events say as of the quarter's end."""
    until = quarter.end
    stretch = due.stretch
    kind = _KINDS[due.state]
    closing_reason = decision.latest("closing_reason", until)
    if due.state is ReportState.CLOSED and closing_reason is None:
        closing_reason = next(
            (e.note for e in decision.events if e.kind == "closed" and e.on == due.closed_on),
            None,
        )
    offers = tuple((on, text) for on, text in stretch.offers)[-OFFER_ROWS:]
    row = Row(
        district=decision.district,
        quarter=str(quarter),
        state=due.state,
        reference=reference_of(decision.district, decision.decision_id, str(quarter), kind),
        municipality=reporter.municipality,
        administration=reporter.administration,
        code=decision.person.code or "",
        gender=decision.person.gender or "",
        protected=bool(decision.person.protected),
        law=decision.law,
        legal_reference=reference_for(reporter.references, decision.law, decision.decision_date),
        intervention=decision.latest("intervention", until),
        decision_id=decision.decision_id,
        decision_date=decision.decision_date,
        due_on=due.due_on,
        interruption_date=stretch.interrupted_on,
        partly_executed_on=stretch.partly_executed_on,
        part_not_executed=decision.latest("part_not_executed", until),
        delay_reason=decision.latest("delay_reason", until),
        consequences=decision.latest("consequences", until),
        offers=offers,
        interim_measures=decision.latest("interim_measures", until),
        execution_date=due.executed_on,
        closing_date=due.closed_on,
        closing_reason=closing_reason,
        referral_case_id=decision.latest("referral_case_id", until),
    )
    return _with_missing(row)


def _with_missing(row: Row) -> Row:
    missing = []
    if row.intervention is None:
        missing.append("Intervention")
    if row.kind == "not_executed":
        if row.delay_reason is None:
            missing.append("DelayReason")
        if row.consequences is None:
            missing.append("Consequences")
    if row.kind == "not_executed" and any(not text for _, text in row.offers):
        missing.append("Offers")
    if row.kind == "closed" and row.closing_reason is None:
        missing.append("ClosingReason")
    if not row.code or not row.gender:
        missing.append("Individual")
    return Row(**{**row.__dict__, "missing": tuple(missing)})


def summary(rows: Iterable[Row]) -> dict[str, int]:
    counts = {s.value: 0 for s in ReportState}
    for row in rows:
        counts[row.state.value] += 1
    return counts


# -- CSV ----------------------------------------------------------------------------------------
COLUMNS = (
    "reference", "state", "report_kind", "municipality", "administration", "quarter", "code",
    "gender", "protected_identity", "law", "legal_reference", "intervention", "decision_id",
    "decision_date", "due_on", "interruption_date", "delay_reason", "consequences", "offers",
    "interim_measures", "execution_date", "closing_date", "closing_reason", "free_text",
    "referral_case_id", "missing",
)  # fmt: skip


def csv_values(row: Row) -> dict[str, str]:
    def day(value: date | None) -> str:
        return value.isoformat() if value else ""

    return {
        "reference": row.reference,
        "state": row.state.value,
        "report_kind": row.kind,
        "municipality": row.municipality,
        "administration": row.administration,
        "quarter": row.quarter,
        "code": row.code,
        "gender": row.gender,
        "protected_identity": "yes" if row.protected else "no",
        "law": row.law,
        "legal_reference": row.legal_reference or "",
        "intervention": row.intervention or "",
        "decision_id": row.decision_id,
        "decision_date": day(row.decision_date),
        "due_on": day(row.due_on),
        "interruption_date": day(row.interruption_date),
        "delay_reason": row.delay_reason or "",
        "consequences": row.consequences or "",
        "offers": " | ".join(f"{on.isoformat()}: {text}" for on, text in row.offers),
        "interim_measures": row.interim_measures or "",
        "execution_date": day(row.execution_date),
        "closing_date": day(row.closing_date),
        "closing_reason": row.closing_reason or "",
        "free_text": row.free_text or "",
        "referral_case_id": row.referral_case_id or "",
        "missing": " ".join(row.missing),
    }


def write_csv(path: Path, rows: Sequence[Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(csv_values(row))


# -- the message body ---------------------------------------------------------------------------
def report_body(row: Row) -> bytes:
    """The ``ivo.individual_report`` v1 body of a complete row."""
    if not row.complete:
        raise ValueError(f"report {row.reference} misses {', '.join(row.missing)}")
    root = etree.Element(f"{{{IVO_NS}}}IndividualReport", nsmap={None: IVO_NS})  # type: ignore[dict-item]

    def add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
        element = etree.SubElement(parent, f"{{{IVO_NS}}}{name}")
        element.text = text
        return element

    add(root, "ReportReference", row.reference)
    reporting = add(root, "Reporting")
    add(reporting, "Municipality", row.municipality)
    add(reporting, "Administration", row.administration)
    add(reporting, "Quarter", row.quarter)
    add(root, "ReportKind", row.kind)
    individual = add(root, "Individual")
    add(individual, "Code", row.code)
    add(individual, "Gender", row.gender)
    add(individual, "ProtectedIdentity", "true" if row.protected else "false")
    decision = add(root, "Decision")
    add(decision, "Law", row.law)
    add(decision, "Intervention", row.intervention)
    add(decision, "DecisionId", row.decision_id)
    add(decision, "DecisionDate", row.decision_date.isoformat())
    if row.interruption_date is not None:
        add(decision, "InterruptionDate", row.interruption_date.isoformat())
    if row.kind == "not_executed":  # the form asks for these only then
        delay = add(root, "Delay")
        add(delay, "Reason", row.delay_reason)
        add(delay, "Consequences", row.consequences)
        if row.offers:
            offers = add(root, "Offers")
            for on, text in row.offers:
                offer = add(offers, "Offer")
                add(offer, "Date", on.isoformat())
                add(offer, "Description", text)
        if row.interim_measures:
            add(root, "InterimMeasures", row.interim_measures)
    if row.execution_date is not None:
        add(root, "ExecutionDate", row.execution_date.isoformat())
    if row.closing_date is not None:
        closing = add(root, "Closing")
        add(closing, "ClosingDate", row.closing_date.isoformat())
        add(closing, "Reason", row.closing_reason)
    if row.details:
        add(root, "FreeText", row.details)
    return etree.tostring(root, encoding="UTF-8")

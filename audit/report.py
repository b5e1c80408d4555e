"""The register extract for one person (GDPR art. 15): who received or accessed their data,
when, for what purpose and under which agreement version.

The report is built from the audit trail alone, by the keyed subject reference the caller
computed from the identity number; it never contains payload content or the identity number.
The caller appends an ``exported`` (or ``audit_exported``) entry for producing it.

``to_pdf`` uses fpdf2 (pure Python), imported only when a PDF is made. The PDF uses the
built-in Helvetica font, which covers Swedish and Danish letters (Latin-1); anything outside
Latin-1 is shown as ``?``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from audit.entry import AuditAction, AuditEntry, Outcome, format_at
from audit.search import to_csv_text
from audit.tables import ENTRY_COLUMNS, audit_entries

# Actions that put the person's data in someone's hands when they succeed.
# SENT: handed to a message service (SDK) that carries it on; the data has left the hub.
DISCLOSING = frozenset({AuditAction.DELIVERED, AuditAction.SENT})
ACCESSING = frozenset(
    {
        AuditAction.DECRYPTED,
        AuditAction.VIEWED,
        AuditAction.EXPORTED,
        AuditAction.QUERIED,
        AuditAction.REPLAYED,
        AuditAction.AUDIT_SEARCHED,
        AuditAction.AUDIT_EXPORTED,
    }
)
_DESCRIPTIONS: dict[str, str] = {
    AuditAction.RECEIVED: "sent to the hub by {source}",
    AuditAction.REFUSED: "refused by the hub: no agreement allowed it",
    AuditAction.DECRYPTED: "decrypted by the hub for delivery to {destination}",
    AuditAction.DELIVERED: "disclosed to {destination}",
    AuditAction.SENT: "handed to {destination}, awaiting the recipient's receipt",
    AuditAction.DELIVERY_FAILED: "delivery to {destination} failed (not disclosed)",
    AuditAction.DEAD: "delivery to {destination} abandoned (not disclosed)",
    AuditAction.VIEWED: "viewed by {actor}",
    AuditAction.EXPORTED: "exported by {actor}",
    AuditAction.QUERIED: "looked up by {actor}",
    AuditAction.REPLAYED: "sent again by {actor}",
    AuditAction.AUDIT_SEARCHED: "audit trail searched by {actor}",
    AuditAction.AUDIT_EXPORTED: "audit trail exported by {actor}",
}


@dataclass(frozen=True)
class SubjectAccess:
    seq: int
    at: str
    action: str
    description: str
    who: str
    purpose: str | None
    agreement: str | None
    district: str | None
    message_id: str | None
    outcome: str


@dataclass(frozen=True)
class Disclosure:
    """One recipient's share of the report: how often, when, why, under which agreements."""

    recipient: str
    purposes: tuple[str, ...]
    agreements: tuple[str, ...]
    count: int
    first_at: str
    last_at: str


@dataclass(frozen=True)
class SubjectReport:
    subject_ref: str
    generated_at: str
    accesses: tuple[SubjectAccess, ...]

    def disclosures(self) -> list[Disclosure]:
        """Recipients the data was disclosed to (successful deliveries), by recipient."""
        grouped: dict[str, list[SubjectAccess]] = {}
        for a in self.accesses:
            if a.action in DISCLOSING and a.outcome == Outcome.OK:
                grouped.setdefault(a.who, []).append(a)
        return [
            Disclosure(
                recipient=who,
                purposes=tuple(sorted({a.purpose for a in rows if a.purpose})),
                agreements=tuple(sorted({a.agreement for a in rows if a.agreement})),
                count=len(rows),
                first_at=rows[0].at,
                last_at=rows[-1].at,
            )
            for who, rows in sorted(grouped.items())
        ]

    def accessed_by(self) -> list[str]:
        """People and systems that read the data (successful accesses), sorted."""
        return sorted(
            {a.who for a in self.accesses if a.action in ACCESSING and a.outcome == Outcome.OK}
        )


def _access(entry: AuditEntry) -> SubjectAccess:
    if entry.action in (AuditAction.RECEIVED, AuditAction.REFUSED):
        who = entry.source or entry.actor
    elif entry.action in (
        AuditAction.DELIVERED,
        AuditAction.SENT,
        AuditAction.DELIVERY_FAILED,
        AuditAction.DEAD,
    ):
        who = entry.destination or entry.actor
    else:
        who = entry.actor
    template = _DESCRIPTIONS.get(entry.action, entry.action.replace("_", " ") + " by {actor}")
    if entry.action == AuditAction.DECRYPTED and not entry.destination:
        template = "decrypted by {actor}"  # for a check or a report, not for a delivery
    description = template.format(
        actor=entry.actor,
        source=entry.source or "an unnamed system",
        destination=entry.destination or "an unnamed system",
    )
    return SubjectAccess(
        seq=entry.seq,
        at=entry.at,
        action=entry.action,
        description=description,
        who=who,
        purpose=entry.purpose,
        agreement=entry.agreement,
        district=entry.district,
        message_id=entry.message_id,
        outcome=entry.outcome,
    )


def subject_report(
    conn: Connection,
    subject_ref: str,
    *,
    now: datetime | None = None,
    districts: frozenset[str] | None = None,
) -> SubjectReport:
    """Every audit entry about ``subject_ref``, oldest first, as plain-language accesses;
    only those of ``districts`` when given (a data-protection officer's own districts)."""
    stmt = (
        select(*ENTRY_COLUMNS)
        .where(audit_entries.c.subject_ref == subject_ref)
        .order_by(audit_entries.c.seq)
    )
    if districts is not None:
        stmt = stmt.where(audit_entries.c.district.in_(sorted(districts)))
    accesses = tuple(_access(AuditEntry(*row)) for row in conn.execute(stmt))
    return SubjectReport(
        subject_ref=subject_ref,
        generated_at=format_at(now or datetime.now(UTC)),
        accesses=accesses,
    )


_CSV_HEADER = (
    "time_utc",
    "action",
    "description",
    "who",
    "purpose",
    "agreement",
    "district",
    "message_id",
    "outcome",
)
# The ``SubjectAccess`` field of each CSV column (and JSON member), in the same order.
_ACCESS_FIELDS = ("at", *_CSV_HEADER[1:])


def to_csv(report: SubjectReport) -> str:
    """One row per access, oldest first (formula-like cells neutralised, see audit.search)."""
    rows: list[Sequence[object]] = [
        tuple(getattr(a, field) for field in _ACCESS_FIELDS) for a in report.accesses
    ]
    return to_csv_text([_CSV_HEADER], rows)


def to_json(report: SubjectReport) -> dict[str, object]:
    """The extract as JSON-ready data: the accesses, the disclosures by recipient and who read
    the data; no identity number and no subject reference (the caller knows whom it asked for).
    """
    return {
        "generated_at": report.generated_at,
        "accesses": [
            {
                name: getattr(a, field)
                for name, field in zip(_CSV_HEADER, _ACCESS_FIELDS, strict=True)
            }
            for a in report.accesses
        ],
        "disclosures": [
            {
                "recipient": d.recipient,
                "purposes": list(d.purposes),
                "agreements": list(d.agreements),
                "count": d.count,
                "first_at": d.first_at,
                "last_at": d.last_at,
            }
            for d in report.disclosures()
        ],
        "accessed_by": report.accessed_by(),
    }


def _latin1(text: str | None) -> str:
    return (text or "-").encode("latin-1", "replace").decode("latin-1")


def _short_time(at: str) -> str:
    return at[:19].replace("T", " ")


def to_pdf(report: SubjectReport) -> bytes:
    """A printable extract: a summary of recipients, then every access in time order."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class _ExtractPdf(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.cell(0, 8, f"Page {self.page_no()}/{{nb}}", align="C")

    pdf = _ExtractPdf(orientation="landscape", format="A4")
    pdf.set_title("Register extract (GDPR art. 15)")
    pdf.set_creator("Omsorgshub")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, "Register extract: processing of personal data (GDPR art. 15)")
    pdf.ln(12)
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(
        0,
        5,
        "This extract lists every recorded disclosure of and access to the data subject's "
        "personal data by the integration hub: who received or read it, when, for what "
        "purpose and under which data-processing agreement version. Times are UTC. "
        "No message content is included.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    pdf.cell(0, 6, _latin1(f"Subject reference: {report.subject_ref}"))
    pdf.ln(6)
    pdf.cell(0, 6, f"Generated: {_short_time(report.generated_at)} UTC")
    pdf.ln(6)
    pdf.cell(0, 6, f"Recorded events: {len(report.accesses)}")
    pdf.ln(10)

    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, "Recipients")
    pdf.ln(9)
    pdf.set_font("Helvetica", size=9)
    disclosures = report.disclosures()
    if not disclosures:
        pdf.cell(0, 6, "The data has not been disclosed to any recipient.")
        pdf.ln(8)
    else:
        with pdf.table(col_widths=(50, 60, 60, 15, 40, 40), text_align="LEFT") as table:
            table.row(("Recipient", "Purposes", "Agreements", "Times", "First", "Last"))
            for d in disclosures:
                table.row(
                    (
                        _latin1(d.recipient),
                        _latin1(", ".join(d.purposes)),
                        _latin1(", ".join(d.agreements)),
                        str(d.count),
                        _short_time(d.first_at),
                        _short_time(d.last_at),
                    )
                )
        pdf.ln(4)

    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, "All recorded events")
    pdf.ln(9)
    pdf.set_font("Helvetica", size=8)
    if not report.accesses:
        pdf.cell(0, 6, "No events are recorded for this subject.")
    else:
        with pdf.table(col_widths=(32, 75, 40, 35, 35, 30, 20), text_align="LEFT") as table:
            table.row(("Time", "What", "Who", "Purpose", "Agreement", "District", "Outcome"))
            for a in report.accesses:
                table.row(
                    (
                        _short_time(a.at),
                        _latin1(a.description),
                        _latin1(a.who),
                        _latin1(a.purpose),
                        _latin1(a.agreement),
                        _latin1(a.district),
                        _latin1(a.outcome),
                    )
                )
    return bytes(pdf.output())

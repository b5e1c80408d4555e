"""The officer's worklist as a PDF (fpdf2): a summary, then one block per individual report.

Each block has the fields of the CSV that have a value, and the missing ones, marked, first:
what an officer must complete before the report can go. Core fonts only (Latin-1, which has
å, ä, ö and §); anything else is replaced, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hub.ivo.worklist import Row, csv_values, summary
from hub.pdf_pages import latin1, start_titled

_LABELS = {
    "reference": "Reference",
    "report_kind": "Report",
    "municipality": "Municipality",
    "administration": "Administration",
    "code": "Individual (IVO code)",
    "gender": "Gender",
    "protected_identity": "Protected identity",
    "law": "Law",
    "legal_reference": "Legal reference",
    "intervention": "Intervention",
    "decision_id": "Decision",
    "decision_date": "Decision date",
    "due_on": "Three months passed",
    "interruption_date": "Interruption date",
    "delay_reason": "Reason for the delay",
    "consequences": "Consequences for the person",
    "offers": "Offers",
    "interim_measures": "Interim measures",
    "execution_date": "Execution date",
    "closing_date": "Closing date",
    "closing_reason": "Closing reason",
    "free_text": "Free text",
    "referral_case_id": "Contact centre case",
    "notes": "Notes",
}


def worklist_pdf(
    title: str, rows: Sequence[Row], progress: Callable[[int], None] | None = None
) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class _Worklist(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("Helvetica", size=8)
            self.cell(0, 8, f"{latin1(title)} - page {self.page_no()}/{{nb}}", align="C")

    pdf = _Worklist(format="A4")
    start_titled(pdf, title)
    counts = summary(rows)
    incomplete = sum(1 for r in rows if not r.complete)
    pdf.multi_cell(
        0,
        5,
        latin1(
            f"{len(rows)} individual reports: "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items())
            + f". {incomplete} miss fields the case system did not send, or its summary "
            "disagrees with its events: an officer completes or resolves them in the case "
            "system before they are submitted."
        ),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    for done, row in enumerate(rows, start=1):
        values = csv_values(row)
        pdf.ln(3)
        pdf.set_font("Helvetica", style="B", size=10)
        head = f"{row.reference}   {row.state.value.replace('_', ' ')}   {row.code}"
        pdf.cell(0, 6, latin1(head), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if row.missing:
            pdf.set_text_color(170, 0, 0)
            pdf.cell(
                0, 5, latin1("MISSING: " + ", ".join(row.missing)), new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )  # fmt: skip
            pdf.set_text_color(0, 0, 0)
        for text in row.disagreements:
            pdf.set_text_color(170, 0, 0)
            pdf.multi_cell(0, 5, latin1("DISAGREES: " + text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_text_color(0, 0, 0)
        pdf.set_font("Helvetica", size=8)
        width = pdf.epw
        for key, label in _LABELS.items():
            if not values[key] or key == "reference":
                continue
            line = latin1(f"{label}: {values[key]}")
            # fpdf2's line breaking costs per character: a line that fits is a plain cell
            if pdf.get_string_width(line) < width:
                pdf.cell(0, 4, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            else:
                pdf.multi_cell(0, 4, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if progress is not None:
            progress(done)
    return bytes(pdf.output())

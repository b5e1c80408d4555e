"""The art. 30 record as a PDF (fpdf2): per district, one block per agreement in force, the
hub's security measures once at the end. Core fonts only (Latin-1, which has å, ä and ö);
anything else is replaced, never dropped silently."""

from __future__ import annotations

from collections.abc import Sequence

from hub.pdf_pages import latin1, start_titled
from hub.records.processing import COLUMNS, SECURITY_MEASURES, RecordRow

_SHOWN = tuple(c for c in COLUMNS if c not in ("district", "security_measures"))


def record_pdf(title: str, rows: Sequence[RecordRow]) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    start_titled(pdf, title)
    if not rows:
        pdf.multi_cell(0, 5, "No agreement in force.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    district = None
    for row in rows:
        if row.district != district:
            district = row.district
            pdf.ln(3)
            pdf.set_font("Helvetica", style="B", size=12)
            text = f"{row.district}: {row.controller}"
            pdf.multi_cell(0, 7, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.multi_cell(0, 6, latin1(row.agreement), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=9)
        for column in _SHOWN[1:]:
            value = str(getattr(row, column)) or "-"
            line = f"{column.replace('_', ' ')}: {value}"
            pdf.multi_cell(0, 4.5, latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.multi_cell(0, 6, "Security measures (every agreement)", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)
    for measure in SECURITY_MEASURES:
        pdf.multi_cell(0, 4.5, latin1(f"- {measure}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())

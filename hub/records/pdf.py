"""The art. 30 record as a PDF (fpdf2): per district, one block per agreement in force, the
hub's security measures once at the end. Core fonts only (Latin-1, which has å, ä and ö);
anything else is replaced, never dropped silently."""

from __future__ import annotations

from collections.abc import Sequence

from hub.records.processing import COLUMNS, SECURITY_MEASURES, RecordRow

_SHOWN = tuple(c for c in COLUMNS if c not in ("district", "security_measures"))


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def record_pdf(title: str, rows: Sequence[RecordRow]) -> bytes:
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(title))
    pdf.set_creator("Omsorgshub")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=15)
    pdf.multi_cell(0, 8, _latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)
    if not rows:
        pdf.multi_cell(0, 5, "No agreement in force.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    district = None
    for row in rows:
        if row.district != district:
            district = row.district
            pdf.ln(3)
            pdf.set_font("Helvetica", style="B", size=12)
            text = f"{row.district}: {row.controller}"
            pdf.multi_cell(0, 7, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.multi_cell(0, 6, _latin1(row.agreement), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=9)
        for column in _SHOWN[1:]:
            value = str(getattr(row, column)) or "-"
            line = f"{column.replace('_', ' ')}: {value}"
            pdf.multi_cell(0, 4.5, _latin1(line), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.multi_cell(0, 6, "Security measures (every agreement)", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=9)
    for measure in SECURITY_MEASURES:
        pdf.multi_cell(0, 4.5, _latin1(f"- {measure}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())

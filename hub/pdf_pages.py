"""What every PDF the hub writes (fpdf2, core fonts) starts with: the document's title as its
metadata and as the first page's heading, then the body font. Core fonts are Latin-1 (å, ä and ö
are in it); anything else is replaced, never dropped silently."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF


def latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def start_titled(pdf: FPDF, title: str) -> None:
    """A4 pages with a 15 mm bottom margin, the title in bold 15 pt, then Helvetica 10 pt."""
    from fpdf.enums import XPos, YPos

    pdf.set_title(latin1(title))
    pdf.set_creator("Omsorgshub")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=15)
    pdf.multi_cell(0, 8, latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", size=10)

"""A ``timereport.assistance_shift`` body: read into shifts, and written (demo, tests, bench).

The body was validated against its XSD at ingest, so reading trusts its form; it is parsed
without entities or network (the hub's bodies are canonical XML without a DOCTYPE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from lxml import etree

from hub.atl.rules import Kind, Shift

NS = "urn:omsorgshub:timereport.assistance_shift:1"
TYPE = "timereport.assistance_shift"
_Q = "{" + NS + "}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class ShiftReport:
    report_id: str
    provider: str
    assistant: str
    period: str  # YYYY-MM
    rule_set: str
    shifts: tuple[Shift, ...]


def read_report(body: bytes) -> ShiftReport:
    root = etree.fromstring(body, _PARSER)

    def text(el: etree._Element, name: str) -> str:
        return (el.findtext(_Q + name) or "").strip()

    shifts = tuple(
        Shift(
            start=datetime.fromisoformat(text(s, "Start")),
            end=datetime.fromisoformat(text(s, "End")),
            kind=Kind(text(s, "Kind")),
            breaks=tuple(
                (datetime.fromisoformat(text(b, "Start")), datetime.fromisoformat(text(b, "End")))
                for b in s.iterfind(_Q + "Break")
            ),
        )
        for s in root.iterfind(_Q + "Shift")
    )
    return ShiftReport(
        report_id=text(root, "ReportId"),
        provider=text(root, "Provider"),
        assistant=text(root, "AssistantId"),
        period=text(root, "Period"),
        rule_set=text(root, "RuleSet"),
        shifts=shifts,
    )


def report_xml(
    *,
    report_id: str,
    provider: str,
    assistant: str,
    client: str,
    period: str,
    shifts: Sequence[Shift],
    rule_set: str = "atl-1982-673",
) -> bytes:
    """A body of the type (its values are the caller's; nothing here is escaped twice)."""
    parts = [
        f'<AssistanceShifts xmlns="{NS}">',
        f"<ReportId>{escape(report_id)}</ReportId>",
        f"<Provider>{escape(provider)}</Provider>",
        f"<AssistantId>{escape(assistant)}</AssistantId>",
        f"<Client>{escape(client)}</Client>",
        f"<Period>{escape(period)}</Period>",
        f"<RuleSet>{escape(rule_set)}</RuleSet>",
    ]
    for s in shifts:
        parts.append(
            f"<Shift><Start>{s.start.isoformat()}</Start><End>{s.end.isoformat()}</End>"
            f"<Kind>{s.kind.value}</Kind>"
        )
        parts += [
            f"<Break><Start>{b.isoformat()}</Start><End>{e.isoformat()}</End></Break>"
            for b, e in s.breaks
        ]
        parts.append("</Shift>")
    parts.append("</AssistanceShifts>")
    return "".join(parts).encode()

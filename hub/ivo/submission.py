"""A complete report as the envelope the hub sends itself through its own ingest.

The hub's own system identity is the sender (setting ``ivo_sender``), so the report goes the
way every message goes: agreement check, sealed storage, audit, outbox, retries, exactly-once
delivery to the destination routed for ``ivo.individual_report`` (adapter ``ivo``). The
message id is the idempotency key per decision and quarter: submitting twice stores nothing
new, and a changed report for the same decision and quarter is a conflict an officer sees.
The envelope's ``DataSubjects`` names the person (the type is pseudonymous: ingest links the
message to the person's keyed reference); the body carries IVO's code only.
"""

from __future__ import annotations

from lxml import etree

from hub.ivo.worklist import REPORT_TYPE, REPORT_VERSION, Row, report_body
from schemas.parser import parse_xml
from schemas.registry import ENVELOPE_NS


def idempotency_key(row: Row) -> str:
    return f"ivo-report:{row.quarter}:{row.district}:{row.decision_id}"


def report_envelope(row: Row, purpose: str, subject: tuple[str, str]) -> bytes:
    """The envelope of a complete row; ``subject`` is ``(scheme, identity number)``."""
    ns = f"{{{ENVELOPE_NS}}}"
    envelope = etree.Element(f"{ns}Envelope", nsmap={None: ENVELOPE_NS})  # type: ignore[dict-item]
    header = etree.SubElement(envelope, f"{ns}Header")
    for name, value in (
        ("Type", REPORT_TYPE),
        ("Version", REPORT_VERSION),
        ("District", row.district),
        ("Purpose", purpose),
        ("MessageId", idempotency_key(row)),
    ):
        etree.SubElement(header, f"{ns}{name}").text = value
    listing = etree.SubElement(header, f"{ns}DataSubjects")
    etree.SubElement(listing, f"{ns}Subject", scheme=subject[0]).text = subject[1]
    etree.SubElement(envelope, f"{ns}Body").append(parse_xml(report_body(row)))
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)

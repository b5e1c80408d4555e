"""A checked :class:`~hub.timereports.model.Visit` as a ``timereport.visit`` v2 body.

JSON and CSV senders go through here, so their visits are validated against the same XSD as a
document an XML sender posts to ``/api/v1/messages`` (the pipeline does that at ingest).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from lxml import etree

from hub.timereports.model import Visit
from schemas.registry import ENVELOPE_NS

VISIT_V2_NS = "urn:omsorgshub:timereport.visit:2"
VISIT_V2 = ("timereport.visit", "2")


def visit_body(visit: Visit, *, provider: str, batch_id: str, zone: ZoneInfo) -> bytes:
    """The v2 body of ``visit``, reported by ``provider`` in batch ``batch_id``."""
    root = etree.Element(f"{{{VISIT_V2_NS}}}Visit", nsmap={None: VISIT_V2_NS})  # type: ignore[dict-item]
    _add(root, "VisitId", visit.visit_id)
    _add(root, "BatchId", batch_id)
    _add(root, "ProviderId", provider)
    _add(root, "StaffId", visit.staff_id)
    if visit.second_staff_id is not None:
        _add(root, "SecondStaffId", visit.second_staff_id)
    _add(root, "Client", visit.client.formatted()).set("scheme", visit.client.scheme)
    _add(root, "OrderId", visit.order_id)
    listed = _add(root, "Interventions")
    for intervention in visit.interventions:
        element = _add(listed, "Intervention")
        element.set("code", intervention.code)
        if intervention.minutes is not None:
            element.set("minutes", str(intervention.minutes))
    _add(root, "VisitDate", visit.visit_date(zone).isoformat())
    if visit.planned_start is not None and visit.planned_end is not None:
        _add(root, "PlannedStart", visit.planned_start.isoformat())
        _add(root, "PlannedEnd", visit.planned_end.isoformat())
    _add(root, "ActualStart", visit.actual_start.isoformat())
    _add(root, "ActualEnd", visit.actual_end.isoformat())
    _add(root, "ConfirmationMethod", visit.confirmation)
    return etree.tostring(root, encoding="UTF-8")


def _add(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{VISIT_V2_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def visit_envelope(body: bytes, *, district: str, purpose: str, message_id: str) -> bytes:
    """The ``urn:omsorgshub:envelope:1`` document the ingest pipeline reads, around ``body``."""
    ns = f"{{{ENVELOPE_NS}}}"
    envelope = etree.Element(f"{ns}Envelope", nsmap={"h": ENVELOPE_NS})
    head = etree.SubElement(envelope, f"{ns}Header")
    for name, value in (
        ("Type", VISIT_V2[0]),
        ("Version", VISIT_V2[1]),
        ("District", district),
        ("Purpose", purpose),
        ("MessageId", message_id),
    ):
        etree.SubElement(head, f"{ns}{name}").text = value
    etree.SubElement(envelope, f"{ns}Body").append(etree.fromstring(body))
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)

"""A :class:`~hub.timereports.model.Visit` as a ``timereport.visit`` v2 body, and back.

JSON and CSV senders go through :func:`visit_body`, so their visits are validated against the
same XSD as a document an XML sender posts to ``/api/v1/messages`` (the pipeline does that at
ingest). An XML sender's body, once valid, is read back by :func:`read_visit`, so that its
visit meets the same checks as theirs (``hub.timereports.admission``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from lxml import etree

from hub.ingest.identity import parse_identity
from hub.timereports.model import Intervention, Visit
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


@dataclass(frozen=True)
class ReportedVisit:
    """A v2 body read back: the visit, and what the body says around it."""

    visit: Visit
    provider: str
    batch_id: str
    visit_date: date  # as the body states it (a JSON or CSV visit's is computed)
    planned_given: int  # how many of PlannedStart and PlannedEnd it has (the XSD allows one)


def read_visit(body: etree._Element, *, message_id: str | None) -> ReportedVisit:
    """The visit of a v2 body that passed the XSD and whose client's number ingest checked
    (so every element the XSD requires is there). ``ValueError`` for a time the XSD allows
    and Python cannot read (a year past 9999, 24:00:00)."""

    def text(name: str) -> str | None:
        element = body.find(f"{{{VISIT_V2_NS}}}{name}")
        return None if element is None or element.text is None else element.text.strip()

    def required(name: str) -> str:
        return text(name) or ""

    def moment(name: str) -> datetime | None:
        value = text(name)
        return None if value is None else datetime.fromisoformat(value)

    interventions = tuple(
        Intervention(str(i.get("code")), int(str(i.get("minutes"))) if i.get("minutes") else None)
        for i in body.iterfind(f"{{{VISIT_V2_NS}}}Interventions/{{{VISIT_V2_NS}}}Intervention")
    )
    client = body.find(f"{{{VISIT_V2_NS}}}Client")
    scheme = client.get("scheme", "se") if client is not None else "se"
    planned = (moment("PlannedStart"), moment("PlannedEnd"))
    visit = Visit(
        index=0,
        visit_id=required("VisitId"),
        staff_id=required("StaffId"),
        client=parse_identity(required("Client"), scheme),
        order_id=required("OrderId"),
        interventions=interventions,
        actual_start=datetime.fromisoformat(required("ActualStart")),
        actual_end=datetime.fromisoformat(required("ActualEnd")),
        confirmation=required("ConfirmationMethod"),
        planned_start=planned[0] if None not in planned else None,
        planned_end=planned[1] if None not in planned else None,
        second_staff_id=text("SecondStaffId"),
        message_id=message_id,
    )
    return ReportedVisit(
        visit,
        provider=required("ProviderId"),
        batch_id=required("BatchId"),
        visit_date=date.fromisoformat(required("VisitDate")[:10]),  # xs:date may carry a zone
        planned_given=sum(p is not None for p in planned),
    )

"""Reading a stored ``case.execution_event`` body (v1 or v2) into the tracking's values.

The bodies were validated against their XSD at ingest, so this only reads; an element the
version does not have (v1 knows no gender, offer or intervention) is simply absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lxml import etree

from hub.ivo.model import Event
from schemas.parser import parse_xml

EVENT_TYPE = "case.execution_event"
NAMESPACES = {
    "1": "urn:omsorgshub:case.execution_event:1",
    "2": "urn:omsorgshub:case.execution_event:2",
}


@dataclass(frozen=True)
class ReadEvent:
    """One event and what it says of the person (the identity number stays in memory)."""

    decision_id: str
    subject: str
    scheme: str
    law: str
    event: Event
    gender: str | None
    protected: bool | None


def read_event(body: bytes, version: str) -> ReadEvent:
    ns = NAMESPACES.get(version)
    if ns is None:
        raise ValueError(f"{EVENT_TYPE} v{version} is not known to the IVO tracking")
    root = parse_xml(body)

    def text(path: str) -> str | None:
        found = root.find("/".join(f"{{{ns}}}{part}" for part in path.split("/")))
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def day(path: str) -> date | None:
        value = text(path)
        return date.fromisoformat(value) if value else None

    subject = root.find(f"{{{ns}}}Subject")
    if subject is None or subject.text is None:
        raise ValueError("not a valid execution event: its XSD requires Subject and dates")
    protected = text("ProtectedIdentity")
    decision_date = day("DecisionDate")
    on = day("EventDate")
    if decision_date is None or on is None:
        raise ValueError("not a valid execution event: its XSD requires both dates")
    event = Event(
        event_id=text("EventId") or "",
        kind=text("EventKind") or "",
        on=on,
        decision_date=decision_date,
        intervention=text("Intervention"),
        part_not_executed=text("PartNotExecuted"),
        offer_date=day("Offer/OfferDate"),
        offered=text("Offer/Offered"),
        delay_reason=text("DelayReason"),
        consequences=text("Consequences"),
        interim_measures=text("InterimMeasures"),
        closing_reason=text("ClosingReason"),
        referral_case_id=text("ReferralCaseId"),
        note=text("Note"),
    )
    return ReadEvent(
        decision_id=text("DecisionId") or "",
        subject=subject.text.strip(),
        scheme=_scheme(subject),
        law=text("Law") or "",
        event=event,
        gender=text("Gender"),
        protected=None if protected is None else protected in ("true", "1"),
    )


def _scheme(element: etree._Element) -> str:
    return str(element.get("scheme") or "se")

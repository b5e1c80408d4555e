"""What the case-management mapping's unit tests share: deliveries of the hub's case
documents and the contract's SOAP pieces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import zeep
import zeep.exceptions
from lxml import etree

from hub.demo.fictional import FictionalPerson
from hub.envelope import OutboundDelivery
from hub.ingest.identity import parse_identity

# zeep has no type annotations: its exceptions, typed loosely once here.
_Raise = Callable[..., Exception]
Fault = cast(_Raise, zeep.exceptions.Fault)
TransportError = cast(_Raise, zeep.exceptions.TransportError)
DTDForbidden = cast(_Raise, zeep.exceptions.DTDForbidden)
EntitiesForbidden = cast(_Raise, zeep.exceptions.EntitiesForbidden)
ValidationError = cast(_Raise, zeep.exceptions.ValidationError)
XMLParseError = cast(_Raise, zeep.exceptions.XMLParseError)

EVENT_NS = "urn:omsorgshub:case.execution_event:1"
REFERRAL_NS = "urn:omsorgshub:case.referral:1"
TOLVAN = FictionalPerson("Tolvan", "Tolvansson", parse_identity("191212121212"))
ARRIVED = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)

FULL_REFERRAL = """<?xml version="1.0" encoding="UTF-8"?>
<CaseReferral xmlns="urn:omsorgshub:case.referral:1">
  <CaseId>AD-2024-000042</CaseId>
  <RegisteredAt>2024-02-05T10:15:00+01:00</RegisteredAt>
  <MainCategory>elderly_care</MainCategory>
  <CaseType> invoice_fee </CaseType>
  <CaseClass>status_existing</CaseClass>
  <AffectedUnit kind="provider" id="prov-testvard">Testvård  Hemtjänst AB</AffectedUnit>
  <Urgency>urgent</Urgency>
  <Callback>
    <Phone>070-1740605</Phone>
    <PreferredTime from="13:00:00" to="16:00:00"/>
  </Callback>
  <Language>fi</Language>
  <FreeText>  Avgiften har höjts &amp; &lt;frågar&gt; varför.
Ring efter 13.</FreeText>
  <DataSubject>
    <IdentityNumber scheme="se">19121212-1212</IdentityNumber>
    <Name>Tolvan Tolvansson</Name>
  </DataSubject>
  <ResponsibleOfficer>
    <Id>hl-4711</Id>
    <Name>Handla Läggarsson</Name>
  </ResponsibleOfficer>
  <OrderingUnit>sodermalm-bistand-aldre</OrderingUnit>
</CaseReferral>
""".encode()

MINIMAL_REFERRAL = b"""<CaseReferral xmlns="urn:omsorgshub:case.referral:1">
  <CaseId>AD-1</CaseId><RegisteredAt>2024-02-05T10:15:00Z</RegisteredAt>
  <MainCategory>other</MainCategory><CaseType>other</CaseType><CaseClass>information</CaseClass>
  <AffectedUnit kind="unit">Provbackens hemtj\xc3\xa4nstgrupp</AffectedUnit>
  <Urgency>normal</Urgency>
  <FreeText>x</FreeText>
  <DataSubject><IdentityNumber scheme="dk">010203-4567</IdentityNumber><Name>N</Name></DataSubject>
</CaseReferral>"""


def delivery_of(document: bytes, message_type: str = "case.referral") -> OutboundDelivery:
    return OutboundDelivery(
        delivery_id="dlv-000001",
        message_id="msg-000001",
        message_type=message_type,
        version="1",
        district="sdn-sodermalm",
        purpose="referral",
        sender="aldre-direkt",
        destination="case-sdn-sodermalm",
        attempt=1,
        document=document,
        created_at=ARRIVED,
    )


def event_body(
    *,
    event_id: str = "EV-1",
    decision_id: str = "B-SOD-001-1",
    subject: str = "19121212-1212",
    scheme: str = "se",
    law: str = "SoL",
    kind: str = "executed",
    event_date: str = "2024-03-01",
    decision_date: str = "2024-01-15",
    note: str | None = None,
) -> bytes:
    root = etree.Element(
        f"{{{EVENT_NS}}}ExecutionEvent", nsmap=cast("dict[str, str]", {None: EVENT_NS})
    )
    fields: list[tuple[str, str | None]] = [("EventId", event_id), ("DecisionId", decision_id)]
    for name, text in fields:
        etree.SubElement(root, f"{{{EVENT_NS}}}{name}").text = text
    etree.SubElement(root, f"{{{EVENT_NS}}}Subject", scheme=scheme).text = subject
    fields = [("Law", law), ("EventKind", kind), ("EventDate", event_date)]
    fields += [("DecisionDate", decision_date), ("Note", note)]
    for name, text in fields:
        if text is not None:
            etree.SubElement(root, f"{{{EVENT_NS}}}{name}").text = text
    return etree.tostring(root, encoding="UTF-8")

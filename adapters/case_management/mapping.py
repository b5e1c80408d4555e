"""Hub documents to the case-management contract's SOAP requests, and its answers to plain data.

The other half of ``adapters.case_management.adapter``, without I/O: :func:`referral_request` and
:func:`execution_event_request` map a ``case.referral`` v1 and a ``case.execution_event`` v1 or v2
document field by field to the arguments of ``ReferCase`` and ``ReportExecutionEvent`` (the
hub's delivery id as ``idempotencyKey``, the sender as ``sourceSystem``);
:func:`client_summary_result` turns a ``GetClientSummary`` answer into the ``client_summary``
lookup's JSON-able data, :func:`protected_persons_result` a ``GetProtectedClients`` answer into
the district's list of marked persons (checked whole: ``total`` matches, each person once).
Identity numbers become RIVTA person ids (:func:`person_id`: 12 digits, or 10 for a Danish
CPR number, with the OID of their kind), the ten-digit Swedish form completed with the century
as of the message's arrival at the hub.

A document that cannot be mapped is a ``PermanentDeliveryError`` (``document_invalid``), a
lookup subject that is no canonical identity number one with reason ``invalid_subject``; no
detail quotes personal data. Data categories: identity, contact, case and decisions going out;
identity, decisions, fees and case coming back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, cast

from lxml import etree

from hub.envelope import OutboundDelivery, ProtectedPerson
from hub.errors import PermanentDeliveryError

REFERRAL_NS = "urn:omsorgshub:case.referral:1"
EVENT_NS = "urn:omsorgshub:case.execution_event:1"
EVENT_NAMESPACES = {"1": EVENT_NS, "2": "urn:omsorgshub:case.execution_event:2"}
# The kinds the contract's ExecutionEventKindType has: v2's decided, partly_executed and
# declined_offer have no place in ReportExecutionEvent.
CONTRACT_EVENT_KINDS = ("executed", "interrupted", "resumed", "closed")
OID_PERSONNUMMER = "1.2.752.129.2.1.3.1"
OID_SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"
OID_CPR = "1.2.208.176.1.2"
_SCHEME_OF_OID = {OID_PERSONNUMMER: "se", OID_SAMORDNINGSNUMMER: "se", OID_CPR: "dk"}
_DIGITS_OF_SCHEME = {"se": 12, "dk": 10}
PROTECTION_KINDS = frozenset({"protected_registration", "confidentiality_marking"})


# -- hub documents -> SOAP requests ------------------------------------------------------------


class _Document:
    """Typed reading of one hub document's children (all in the document's namespace)."""

    def __init__(self, element: etree._Element, ns: str) -> None:
        self.element, self._ns = element, ns

    def child(self, name: str) -> _Document | None:
        found = self.element.find(f"{{{self._ns}}}{name}")
        return None if found is None else _Document(found, self._ns)

    def required(self, name: str) -> _Document:
        found = self.child(name)
        if found is None:
            raise _unmappable(f"element {name} is missing")
        return found

    def token(self, name: str | None = None) -> str:
        """The collapsed text of child ``name`` (or of this element); required."""
        element = self.required(name).element if name else self.element
        return " ".join((element.text or "").split())

    def optional_token(self, name: str) -> str | None:
        found = self.child(name)
        return None if found is None else found.token()

    def text(self, name: str) -> str:
        """The text of child ``name`` exactly as written (xs:string)."""
        return self.required(name).element.text or ""

    def attribute(self, name: str) -> str | None:
        value = self.element.get(name)
        return None if value is None else " ".join(value.split())


def referral_request(delivery: OutboundDelivery) -> dict[str, object]:
    """``ReferCase`` arguments for a ``case.referral`` v1 delivery."""
    doc = _parse_document(delivery.document, f"{{{REFERRAL_NS}}}CaseReferral", REFERRAL_NS)
    unit = doc.required("AffectedUnit")
    callback = doc.child("Callback")
    subject = doc.required("DataSubject")
    officer = doc.child("ResponsibleOfficer")
    referral: dict[str, object] = {
        "caseId": doc.token("CaseId"),
        "registeredAt": doc.token("RegisteredAt"),
        "mainCategory": doc.token("MainCategory"),
        "caseType": doc.token("CaseType"),
        "caseClass": doc.token("CaseClass"),
        "affectedUnit": {
            "kind": unit.attribute("kind"),
            "unitId": unit.attribute("id"),
            "name": unit.token(),
        },
        "urgency": doc.token("Urgency"),
        "callback": None if callback is None else _callback(callback),
        "language": doc.optional_token("Language"),
        "freeText": doc.text("FreeText"),
        "subject": {
            "subjectId": _person_id_of(subject.required("IdentityNumber"), delivery),
            "name": subject.token("Name"),
        },
        "responsibleOfficer": None
        if officer is None
        else {"officerId": officer.optional_token("Id"), "name": officer.token("Name")},
        "orderingUnit": doc.optional_token("OrderingUnit"),
    }
    return {
        "idempotencyKey": delivery.delivery_id,
        "sourceSystem": delivery.sender,
        "caseReferral": referral,
    }


def execution_event_request(delivery: OutboundDelivery) -> dict[str, object]:
    """``ReportExecutionEvent`` arguments for a ``case.execution_event`` v1 or v2 delivery.

    v2 maps field by field like v1: the contract has no element for v2's additions (gender,
    intervention, offer, delay, closing reason…), which stay in the hub. An event of a kind
    the contract cannot carry (v2's ``decided``, ``partly_executed``, ``declined_offer``) is a
    ``PermanentDeliveryError`` (``unsupported_event_kind``) naming the kind."""
    ns = EVENT_NAMESPACES.get(delivery.version)
    if ns is None:
        raise _unmappable(f"case.execution_event v{delivery.version} is not known")
    doc = _parse_document(delivery.document, f"{{{ns}}}ExecutionEvent", ns)
    kind = doc.token("EventKind")
    if kind not in CONTRACT_EVENT_KINDS:
        raise PermanentDeliveryError(
            f"ReportExecutionEvent cannot carry an execution event of kind {kind!r}: the "
            f"case-management contract knows {', '.join(CONTRACT_EVENT_KINDS)}",
            reason="unsupported_event_kind",
            kind=kind,
        )
    note = doc.child("Note")
    event: dict[str, object] = {
        "eventId": doc.token("EventId"),
        "decisionId": doc.token("DecisionId"),
        "subjectId": _person_id_of(doc.required("Subject"), delivery),
        "law": doc.token("Law"),
        "eventKind": kind,
        "eventDate": doc.token("EventDate"),
        "decisionDate": doc.token("DecisionDate"),
        "note": None if note is None else note.element.text or "",
    }
    return {
        "idempotencyKey": delivery.delivery_id,
        "sourceSystem": delivery.sender,
        "executionEvent": event,
    }


def _callback(callback: _Document) -> dict[str, object]:
    window = callback.child("PreferredTime")
    return {
        "phone": callback.token("Phone"),
        "preferredTime": None
        if window is None
        else {"from": window.attribute("from"), "to": window.attribute("to")},
    }


def _person_id_of(element: _Document, delivery: OutboundDelivery) -> dict[str, str]:
    return person_id(
        element.token(), element.attribute("scheme") or "se", delivery.created_at.date()
    )


def person_id(text: str, scheme: str, reference: date) -> dict[str, str]:
    """The contract's person id for an identity number as hub documents write it.

    Swedish numbers become 12 digits ``YYYYMMDDNNNC``; the ten-digit form gets the century the
    hub's identity rules give it on ``reference`` (``-`` or none: born within the hundred years
    before; ``+``: a hundred years earlier). Danish CPR numbers become 10 digits ``DDMMYYSSSS``.
    Check digits were verified at ingest. The value never appears in an error.
    """
    text = text.strip()
    if scheme == "dk":
        digits = text[:6] + text[7:] if len(text) == 11 and text[6] == "-" else text
        if len(digits) != 10 or not (digits.isascii() and digits.isdigit()):
            raise _unmappable("a CPR number must be DDMMYY-SSSS")
        return {"id": digits, "type": OID_CPR}
    if scheme != "se":
        raise _unmappable(f"unknown identity scheme {scheme!r}")
    separator, digits = "", text
    if len(text) > 5 and text[-5] in "-+":
        separator, digits = text[-5], text[:-5] + text[-4:]
    if len(digits) not in (10, 12) or not (digits.isascii() and digits.isdigit()):
        raise _unmappable("a Swedish identity number must have 10 or 12 digits")
    if len(digits) == 10:
        year = reference.year - (reference.year - int(digits[:2])) % 100
        digits = f"{year - 100 if separator == '+' else year:04d}{digits[2:]}"
    oid = OID_SAMORDNINGSNUMMER if int(digits[6:8]) > 60 else OID_PERSONNUMMER
    return {"id": digits, "type": oid}


def canonical_person_id(subject: str | None) -> dict[str, str]:
    """The person id of a lookup's subject: 12 digits (Swedish) or 10 (Danish CPR)."""
    if subject and subject.isascii() and subject.isdigit() and len(subject) == 12:
        oid = OID_SAMORDNINGSNUMMER if int(subject[6:8]) > 60 else OID_PERSONNUMMER
        return {"id": subject, "type": oid}
    if subject and subject.isascii() and subject.isdigit() and len(subject) == 10:
        return {"id": subject, "type": OID_CPR}
    raise PermanentDeliveryError(
        "client_summary needs the subject's canonical identity number (12 or 10 digits)",
        reason="invalid_subject",
    )


def _parse_document(document: bytes, root_tag: str, ns: str) -> _Document:
    # The hub validated the document at ingest; this parse is defence in depth all the same.
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(document, parser)
    except etree.XMLSyntaxError as exc:
        raise _unmappable("the document is not well-formed XML") from exc
    if cast(Any, root.getroottree().docinfo).doctype:  # lxml-stubs lack DocInfo.doctype
        raise _unmappable("the document has a DOCTYPE")
    if root.tag != root_tag:
        raise _unmappable(f"the document's root is not {root_tag}")
    return _Document(root, ns)


def _unmappable(problem: str) -> PermanentDeliveryError:
    return PermanentDeliveryError(f"cannot map the document: {problem}", reason="document_invalid")


# -- SOAP answers -> plain data ----------------------------------------------------------------


def client_summary_result(answer: Mapping[str, Any] | None) -> dict[str, object]:
    """The ``client_summary`` lookup result from a ``GetClientSummary`` answer's ``client``
    (as ``zeep.helpers.serialize_object`` gives it; ``None`` when the district has no case)."""
    if answer is None:
        return {"found": False}
    fee = answer.get("feeBasis")
    provider = answer.get("provider")
    officer = answer.get("caseOfficer")
    return {
        "found": True,
        "name": answer.get("name"),
        "decisions": [_decision(d) for d in answer.get("decision") or ()],
        "fee_basis": None
        if fee is None
        else {
            "income_per_month": _money(fee.get("incomePerMonth")),
            "currency": fee.get("currency"),
            "period_start": _day(fee.get("periodStart")),
            "period_end": _day(fee.get("periodEnd")),
        },
        "provider": None
        if provider is None
        else {"id": provider.get("providerId"), "name": provider.get("name")},
        "case_officer": None
        if officer is None
        else {"id": officer.get("officerId"), "name": officer.get("name")},
        # None, or the kind of protection: the hub's confidentiality check reads it.
        "protected_identity": answer.get("protectedIdentity"),
    }


def _decision(decision: Mapping[str, Any]) -> dict[str, object]:
    hours = decision.get("grantedHoursPerMonth")
    return {
        "decision_id": decision.get("decisionId"),
        "law": decision.get("law"),
        "service": _code(decision.get("service")),
        "interventions": [_code(i) for i in decision.get("intervention") or ()],
        "decision_date": _day(decision.get("decisionDate")),
        "valid_from": _day(decision.get("validFrom")),
        "valid_to": _day(decision.get("validTo")),
        "granted_hours_per_month": None if hours is None else float(hours),
        "execution_state": decision.get("executionState"),
    }


def _code(code: Mapping[str, Any] | None) -> dict[str, object] | None:
    if code is None:
        return None
    return {"code": code.get("code"), "display_name": code.get("displayName")}


def _day(value: object) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _money(value: object) -> str | None:
    if value is None:
        return None
    return f"{Decimal(str(value)):.2f}"


def protected_persons_result(answer: Mapping[str, Any]) -> list[ProtectedPerson]:
    """The district's marked persons from a ``GetProtectedClients`` answer (as
    ``zeep.helpers.serialize_object`` gives it). The list is taken whole or not at all: a
    ``total`` that does not match, an id that does not fit its OID, an unknown kind or a
    person listed twice is a ``PermanentDeliveryError`` (``response_invalid``), since the hub
    lifts every mark the list leaves out. No detail names a person."""
    listed = answer.get("protectedClient") or []
    if answer.get("total") != len(listed):
        raise _answer_invalid("total does not match the number of protectedClient elements")
    persons: dict[str, ProtectedPerson] = {}
    for n, entry in enumerate(listed, start=1):
        subject = entry.get("subjectId") or {}
        number, scheme = subject.get("id"), _SCHEME_OF_OID.get(subject.get("type") or "")
        kind = entry.get("protectedIdentity")
        if scheme is None or not isinstance(number, str) or kind not in PROTECTION_KINDS:
            raise _answer_invalid(f"protectedClient {n} has no known id type or kind")
        if len(number) != _DIGITS_OF_SCHEME[scheme] or not (number.isascii() and number.isdigit()):
            raise _answer_invalid(f"protectedClient {n}: the id does not fit its type")
        if number in persons:
            raise _answer_invalid(f"protectedClient {n} lists a person a second time")
        persons[number] = ProtectedPerson(identity=number, scheme=scheme, kind=str(kind))
    return list(persons.values())


def _answer_invalid(problem: str) -> PermanentDeliveryError:
    return PermanentDeliveryError(
        f"GetProtectedClients: the answer does not fit the contract: {problem}",
        reason="response_invalid",
        operation="GetProtectedClients",
    )

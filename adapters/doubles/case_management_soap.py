"""The case-management contract's XML on the double's side (``case_management_double``).

No SOAP library here (spyne breaks on Python 3.12+): :class:`ServiceContract` holds the WSDL of
``schemas/wsdl/case-management-1.wsdl`` as one document (types inlined, ``soap:address``
pointing at the double) and validates requests against the contract's own XSDs;
:func:`unwrap` takes a parsed SOAP 1.1 envelope apart; the ``*_response`` functions build the
answers (``protected_clients_response``: the district's list of marked persons) and faults with
lxml, ``hostile_response`` one behind a DOCTYPE declaring entities (an XXE attempt, for mode
``hostile``). :func:`referral_document` and
:func:`execution_event_document` read a stored payload back as the hub document it came from, so
that tests and the demo can compare what the case system received with what the hub sent.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, cast

from lxml import etree

from adapters.doubles.case_management_seed import OID_CPR, SeededClient, person_id_of
from hub.ingest.identity import IdentityNumber

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
CORE_NS = "urn:riv:omsorgshub:casemanagement:1"
ITR_NS = "urn:riv:itintegration:registry:1"
RESPONDER_NS = {
    "GetClientSummary": "urn:riv:omsorgshub:casemanagement:GetClientSummaryResponder:1",
    "GetProtectedClients": "urn:riv:omsorgshub:casemanagement:GetProtectedClientsResponder:1",
    "ReferCase": "urn:riv:omsorgshub:casemanagement:ReferCaseResponder:1",
    "ReportExecutionEvent": "urn:riv:omsorgshub:casemanagement:ReportExecutionEventResponder:1",
}
REFERRAL_NS = "urn:omsorgshub:case.referral:1"
EVENT_NS = "urn:omsorgshub:case.execution_event:1"
_CONTRACT_DIR = Path(__file__).resolve().parents[2] / "schemas"
WSDL_FILE = _CONTRACT_DIR / "wsdl" / "case-management-1.wsdl"
CORE_XSD_FILE = _CONTRACT_DIR / "xsd" / "casemgmt-1.xsd"
_WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
_XS_NS = "http://www.w3.org/2001/XMLSchema"


class SoapFault(Exception):
    def __init__(self, side: Literal["Client", "Server"], error_code: str, text: str) -> None:
        super().__init__(text)
        self.side, self.error_code, self.text = side, error_code, text


# -- the contract: WSDL for clients, XSDs for requests -----------------------------------------


class ServiceContract:
    """The contract as the service holds it: the WSDL as one document (types inlined, the
    service's address filled in) and validators of the requests."""

    def __init__(self, wsdl: bytes, schemas: dict[str, etree.XMLSchema]) -> None:
        self.wsdl = wsdl
        self._schemas = schemas
        self._lock = threading.Lock()  # an XMLSchema keeps its error log on the object

    @classmethod
    def load(cls, address: str) -> ServiceContract:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        definitions = etree.parse(str(WSDL_FILE), parser).getroot()
        types = definitions.find(f"{{{_WSDL_NS}}}types")
        assert types is not None
        schemas = {
            str(s.get("targetNamespace")): etree.XMLSchema(s)
            for s in types.iterfind(f"{{{_XS_NS}}}schema")
        }
        single = copy.deepcopy(definitions)
        single_types = single.find(f"{{{_WSDL_NS}}}types")
        assert single_types is not None
        for imported in single_types.iter(f"{{{_XS_NS}}}import"):
            if "schemaLocation" in imported.attrib:
                del imported.attrib["schemaLocation"]
        single_types.insert(0, etree.parse(str(CORE_XSD_FILE), parser).getroot())
        for address_element in single.iter("{http://schemas.xmlsoap.org/wsdl/soap/}address"):
            address_element.set("location", address)
        return cls(etree.tostring(single, xml_declaration=True, encoding="UTF-8"), schemas)

    def validate(self, operation: str, payload: etree._Element, address: etree._Element) -> None:
        """Raise a Client ``SoapFault`` unless the header and the payload match the XSDs."""
        with self._lock:
            try:
                valid = self._schemas[ITR_NS].validate(address) and self._schemas[
                    RESPONDER_NS[operation]
                ].validate(payload)
            except etree.Error:  # XMLSchema.validate can raise as well as answer False
                valid = False
        if not valid:  # the schema's message could quote a value: it stays here
            raise SoapFault("Client", "validation_failed", "the request does not match the XSD")


def unwrap(envelope: etree._Element) -> tuple[etree._Element, etree._Element]:
    """The body's one payload element and the LogicalAddress header."""
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
        raise SoapFault("Client", "not_soap_11", "expected a SOAP 1.1 Envelope")
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    payloads = [] if body is None else [c for c in body if isinstance(c.tag, str)]
    if len(payloads) != 1:
        raise SoapFault("Client", "malformed_request", "the Body must hold one element")
    address = envelope.find(f"{{{SOAP_ENV}}}Header/{{{ITR_NS}}}LogicalAddress")
    if address is None:
        raise SoapFault("Client", "missing_logical_address", "the LogicalAddress header is missing")
    return payloads[0], address


def core_text(parent: etree._Element | None, name: str) -> str:
    text = None if parent is None else parent.findtext(f"{{{CORE_NS}}}{name}")
    return (text or "").strip()


# -- answers ---------------------------------------------------------------------------------

# An XXE attempt: an external entity naming a local file, and nested entities (billion laughs).
_HOSTILE_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<!DOCTYPE soap:Envelope [\n"
    '  <!ENTITY local SYSTEM "file:///etc/hostname">\n'
    '  <!ENTITY ha "ha"><!ENTITY haha "&ha;&ha;&ha;&ha;&ha;&ha;&ha;&ha;">\n'
    "]>\n"
)


def hostile_response(operation: str) -> bytes:
    """A well-formed answer of ``operation``'s shape behind a DOCTYPE declaring entities."""
    ns = RESPONDER_NS[operation]
    fields = ""
    if operation in ("ReferCase", "ReportExecutionEvent"):
        name = "caseReference" if operation == "ReferCase" else "eventReference"
        fields = (
            f"<r:resultCode>OK</r:resultCode><r:{name}>&local;&haha;</r:{name}>"
            "<r:duplicate>false</r:duplicate>"
        )
    return (
        f'{_HOSTILE_DOCTYPE}<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body>'
        f'<r:{operation}Response xmlns:r="{ns}">{fields}</r:{operation}Response>'
        "</soap:Body></soap:Envelope>"
    ).encode()


def summary_response(client: SeededClient | None, states: Mapping[str, str]) -> bytes:
    """The GetClientSummary answer: the client's summary, or none for a person without a case;
    ``states`` are the execution states of the client's decisions by decision id."""
    response = _element(RESPONDER_NS["GetClientSummary"], "GetClientSummaryResponse")
    if client is not None:
        response.append(_summary(client, states))
    return _envelope(response)


def protected_clients_response(marked: Sequence[tuple[IdentityNumber, str]]) -> bytes:
    """The GetProtectedClients answer: every ``(identity, kind)`` the district marks now."""
    ns = RESPONDER_NS["GetProtectedClients"]
    response = _element(ns, "GetProtectedClientsResponse")
    _sub(response, "total", str(len(marked)), ns)
    for identity, kind in marked:
        person = _sub(response, "protectedClient", None, ns)
        _person_id(person, "subjectId", identity)
        _sub(person, "protectedIdentity", kind)
    return _envelope(response)


def stored_response(operation: str, reference: str, duplicate: bool) -> bytes:
    """The answer of ReferCase or ReportExecutionEvent."""
    ns = RESPONDER_NS[operation]
    name = "caseReference" if operation == "ReferCase" else "eventReference"
    response = _element(ns, f"{operation}Response")
    _sub(response, "resultCode", "OK", ns)
    _sub(response, name, reference, ns)
    _sub(response, "duplicate", "true" if duplicate else "false", ns)
    return _envelope(response)


def fault_response(fault: SoapFault) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "core": CORE_NS})
    element = etree.SubElement(
        etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault"
    )
    etree.SubElement(element, "faultcode").text = f"soap:{fault.side}"
    etree.SubElement(element, "faultstring").text = fault.text
    info = etree.SubElement(etree.SubElement(element, "detail"), f"{{{CORE_NS}}}FaultInfo")
    _sub(info, "errorCode", fault.error_code)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _element(ns: str, name: str) -> etree._Element:
    return etree.Element(f"{{{ns}}}{name}", nsmap=cast("dict[str, str]", {None: ns}))


def _sub(parent: etree._Element, name: str, text: str | None, ns: str = CORE_NS) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ns}}}{name}")
    child.text = text
    return child


def _envelope(payload: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _summary(client: SeededClient, states: Mapping[str, str]) -> etree._Element:
    summary = etree.Element(
        f"{{{RESPONDER_NS['GetClientSummary']}}}client", nsmap={"core": CORE_NS}
    )
    _person_id(summary, "subjectId", client.identity)
    _sub(summary, "name", client.name)
    for d in client.decisions:
        decision = _sub(summary, "decision", None)
        _sub(decision, "decisionId", d.decision_id)
        _sub(decision, "law", d.law)
        _code(decision, "service", d.service)
        for intervention in d.interventions:
            _code(decision, "intervention", intervention)
        _sub(decision, "decisionDate", d.decision_date.isoformat())
        _sub(decision, "validFrom", d.valid_from.isoformat())
        if d.valid_to is not None:
            _sub(decision, "validTo", d.valid_to.isoformat())
        if d.granted_hours_per_month is not None:
            _sub(decision, "grantedHoursPerMonth", str(d.granted_hours_per_month))
        _sub(decision, "executionState", states[d.decision_id])
    fee = _sub(summary, "feeBasis", None)
    _sub(fee, "incomePerMonth", f"{client.income_per_month:.2f}")
    _sub(fee, "currency", client.currency)
    _sub(fee, "periodStart", client.fee_period[0].isoformat())
    if client.fee_period[1] is not None:
        _sub(fee, "periodEnd", client.fee_period[1].isoformat())
    provider = _sub(summary, "provider", None)
    _sub(provider, "providerId", client.provider.id)
    _sub(provider, "name", client.provider.name)
    officer = _sub(summary, "caseOfficer", None)
    _sub(officer, "officerId", client.officer[0])
    _sub(officer, "name", client.officer[1])
    if client.protected_identity is not None:
        _sub(summary, "protectedIdentity", client.protected_identity)
    return summary


def _person_id(parent: etree._Element, name: str, identity: IdentityNumber) -> None:
    element = _sub(parent, name, None)
    number, oid = person_id_of(identity)
    _sub(element, "id", number)
    _sub(element, "type", oid)


def _code(parent: etree._Element, name: str, code: tuple[str, str]) -> None:
    element = _sub(parent, name, None)
    _sub(element, "code", code[0])
    _sub(element, "displayName", code[1])


# -- what the case system received, as the hub's documents -------------------------------------


def referral_document(payload: bytes) -> bytes:
    """The hub ``case.referral`` v1 document a stored ReferCase carried (see ``referrals()``).

    The inverse of the adapter's mapping, serialized as ``hub.demo.fictional`` writes documents and
    with identity numbers in their usual written form, so that tests and the demo can compare
    what the case system received with what the hub sent.
    """
    item = etree.fromstring(payload)
    root = _element(REFERRAL_NS, "CaseReferral")
    for name in ("caseId", "registeredAt", "mainCategory", "caseType", "caseClass"):
        _sub(root, _upper(name), core_text(item, name), REFERRAL_NS)
    unit = _child(item, "affectedUnit")
    attributes = {"kind": core_text(unit, "kind")}
    if unit.find(f"{{{CORE_NS}}}unitId") is not None:
        attributes["id"] = core_text(unit, "unitId")
    etree.SubElement(root, f"{{{REFERRAL_NS}}}AffectedUnit", attributes).text = core_text(
        unit, "name"
    )
    _sub(root, "Urgency", core_text(item, "urgency"), REFERRAL_NS)
    callback = item.find(f"{{{CORE_NS}}}callback")
    if callback is not None:
        wish = _sub(root, "Callback", None, REFERRAL_NS)
        _sub(wish, "Phone", core_text(callback, "phone"), REFERRAL_NS)
        window = callback.find(f"{{{CORE_NS}}}preferredTime")
        if window is not None:
            times = {"from": core_text(window, "from"), "to": core_text(window, "to")}
            etree.SubElement(wish, f"{{{REFERRAL_NS}}}PreferredTime", times)
    if item.find(f"{{{CORE_NS}}}language") is not None:
        _sub(root, "Language", core_text(item, "language"), REFERRAL_NS)
    _sub(root, "FreeText", item.findtext(f"{{{CORE_NS}}}freeText"), REFERRAL_NS)
    subject = _child(item, "subject")
    person = _sub(root, "DataSubject", None, REFERRAL_NS)
    _identity(person, "IdentityNumber", _child(subject, "subjectId"), REFERRAL_NS)
    _sub(person, "Name", core_text(subject, "name"), REFERRAL_NS)
    officer = item.find(f"{{{CORE_NS}}}responsibleOfficer")
    if officer is not None:
        responsible = _sub(root, "ResponsibleOfficer", None, REFERRAL_NS)
        if officer.find(f"{{{CORE_NS}}}officerId") is not None:
            _sub(responsible, "Id", core_text(officer, "officerId"), REFERRAL_NS)
        _sub(responsible, "Name", core_text(officer, "name"), REFERRAL_NS)
    if item.find(f"{{{CORE_NS}}}orderingUnit") is not None:
        _sub(root, "OrderingUnit", core_text(item, "orderingUnit"), REFERRAL_NS)
    return etree.tostring(root, encoding="UTF-8")


def execution_event_document(payload: bytes) -> bytes:
    """The hub ``case.execution_event`` v1 document a stored ReportExecutionEvent carried."""
    item = etree.fromstring(payload)
    root = _element(EVENT_NS, "ExecutionEvent")
    _sub(root, "EventId", core_text(item, "eventId"), EVENT_NS)
    _sub(root, "DecisionId", core_text(item, "decisionId"), EVENT_NS)
    _identity(root, "Subject", _child(item, "subjectId"), EVENT_NS)
    for name in ("law", "eventKind", "eventDate", "decisionDate"):
        _sub(root, _upper(name), core_text(item, name), EVENT_NS)
    if item.find(f"{{{CORE_NS}}}note") is not None:
        _sub(root, "Note", item.findtext(f"{{{CORE_NS}}}note"), EVENT_NS)
    return etree.tostring(root, encoding="UTF-8")


def _upper(name: str) -> str:
    return name[0].upper() + name[1:]


def _child(parent: etree._Element, name: str) -> etree._Element:
    child = parent.find(f"{{{CORE_NS}}}{name}")
    if child is None:
        raise ValueError(f"{name} is missing")
    return child


def _identity(parent: etree._Element, name: str, person: etree._Element, ns: str) -> None:
    number, oid = core_text(person, "id"), core_text(person, "type")
    scheme, split = ("dk", 6) if oid == OID_CPR else ("se", 8)
    element = etree.SubElement(parent, f"{{{ns}}}{name}", {"scheme": scheme})
    element.text = f"{number[:split]}-{number[split:]}"

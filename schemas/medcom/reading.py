"""Check a CareCommunication message bundle against MedCom's rules and read it.

``read_message`` parses the JSON into ``fhir.resources``' R4B models (FHIR's own structure:
unknown elements, wrong data types and cardinalities are refused there) and then checks what
MedCom's profiles add: the profiles named in ``meta.profile``, the event code, one primary
destination, SOR and EAN identifiers of sender and receiver, exactly one Patient with a CPR
number, the Communication's identifier, category, priority and topic rules, the payload
extensions (date, identifier, author, author contact), the authors' names and roles, and a
Provenance with a known activity pointing at the MessageHeader. Each failure becomes an
:class:`Issue` with a MedCom acknowledgement error code, so the receiver can answer a
``fatal-error`` acknowledgement naming it. The CPR number's date and century are checked by the
hub (``hub/ingest/identity.py``) once the document is ingested; here only its shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.messageheader import MessageHeader
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.provenance import Provenance
from pydantic import ValidationError

from schemas.medcom import codes
from schemas.medcom.checks import (
    CPR_SHAPE,
    UUID,
    Checker,
    Invalid,
    Issue,
    ReadMessage,
    fhir_datetime,
)
from schemas.medcom.document import CareCommunication, Organisation, TextSegment

__all__ = ["Invalid", "Issue", "ReadMessage", "fhir_datetime", "read_message"]


def _lenient_ids(data: Any) -> tuple[str | None, str | None]:
    """Bundle.id and the first entry's MessageHeader.id, read without trusting anything."""
    if not isinstance(data, dict):
        return None, None
    bundle_id = data.get("id") if isinstance(data.get("id"), str) else None
    entries = data.get("entry")
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        resource = entries[0].get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "MessageHeader":
            header = resource.get("id")
            if isinstance(header, str) and UUID.match(header):
                return bundle_id, header
    return bundle_id, None


def _locations(error: ValidationError) -> Iterator[str]:
    for item in error.errors()[:5]:
        path = ".".join(str(p) for p in item["loc"])
        yield f"{path or 'Bundle'}: {item['msg']}"


def read_message(data: bytes) -> ReadMessage:
    """The checked message, or :class:`Invalid` naming every rule it breaks."""
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise Invalid([Issue(codes.JSON_OBJECT, "the body is not JSON")]) from None
    bundle_id, header_id = _lenient_ids(raw)
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        raise Invalid(
            [Issue(codes.JSON_OBJECT, "the body must be a FHIR Bundle")], header_id, bundle_id
        )
    try:
        bundle = Bundle.model_validate(raw)
    except ValidationError as exc:
        issues = [Issue(codes.BAD_SYNTAX, text) for text in _locations(exc)]
        raise Invalid(issues, header_id, bundle_id) from None
    return _check(bundle, header_id, bundle_id)


def _check(bundle: Bundle, header_id: str | None, bundle_id: str | None) -> ReadMessage:
    c = Checker(bundle)
    c.profiled(bundle, codes.PROFILE_CC_MESSAGE, "Bundle")
    if bundle.type != "message":
        c.fail(codes.UNABLE_TO_RECEIVE_TYPE, "Bundle.type must be 'message'")
    if not bundle.id or not UUID.match(str(bundle.id)):
        c.fail(codes.ID_INVALID, "Bundle.id must be a UUID")
    if bundle.timestamp is None:
        c.fail(codes.RESOURCE_REQUIRED, "Bundle.timestamp is required")
    ids = [
        f"{e.resource.get_resource_type()}/{e.resource.id}"
        for e in bundle.entry or []
        if e.resource
    ]
    if len(ids) != len(set(ids)):
        c.fail(codes.DUPLICATE_ID, "two entries have the same resource type and id")
    entries = [e.resource for e in bundle.entry or []]
    header = entries[0] if entries else None
    if not isinstance(header, MessageHeader) or header_id is None:
        c.fail(codes.RESOURCE_REQUIRED, "the first entry must be a MessageHeader with a UUID id")
        raise Invalid(c.issues, header_id, bundle_id)
    c.profiled(header, codes.PROFILE_CC_HEADER, "MessageHeader")
    event = header.eventCoding
    if (
        event is None
        or event.system != codes.EVENT_CODES
        or event.code != codes.EVENT_CARE_COMMUNICATION
    ):
        c.fail(
            codes.UNABLE_TO_RECEIVE_TYPE,
            f"MessageHeader.eventCoding must be {codes.EVENT_CARE_COMMUNICATION}",
        )
    sender = c.organisation(header.sender, "MessageHeader.sender")
    primary = [d for d in header.destination or [] if _is_primary(d.extension or [])]
    receiver = None
    if len(primary) != 1:
        c.fail(codes.RECEIVER_MISSING, "MessageHeader needs exactly one primary destination")
    else:
        receiver = c.organisation(primary[0].receiver, "MessageHeader.destination.receiver")
    patients = [r for r in entries if isinstance(r, Patient)]
    if len(patients) != 1:
        c.fail(codes.RESOURCE_REQUIRED, "the bundle must hold exactly one Patient")
    focus = header.focus[0] if header.focus else None
    communication = c.resolve(focus, Communication, "MessageHeader.focus")
    document = None
    if communication is not None and len(patients) == 1:
        document = _communication(c, communication, header_id, sender, receiver)
    provenances = [r for r in entries if isinstance(r, Provenance)]
    activity = _provenance(c, provenances, header_id)
    if c.issues or document is None or activity is None or bundle.timestamp is None:
        if not c.issues:
            c.fail(codes.RESOURCE_REQUIRED, "the message is incomplete")
        raise Invalid(c.issues, header_id, bundle_id, sender, receiver)
    document = replace(document, activity=activity[0], sent_at=activity[1])
    return ReadMessage(document, header_id, str(bundle.id), fhir_datetime(bundle.timestamp))


def _is_primary(extensions: list[Extension]) -> bool:
    return any(
        e.url == codes.DESTINATION_USE_EXTENSION
        and e.valueCoding is not None
        and e.valueCoding.code == "primary"
        for e in extensions
    )


def _provenance(
    c: Checker, provenances: list[Provenance], header_id: str
) -> tuple[str, str] | None:
    for prov in provenances:
        c.profiled(prov, codes.PROFILE_CC_PROVENANCE, "Provenance")
    names = (f"urn:uuid:{header_id}", f"MessageHeader/{header_id}")
    mine = [p for p in provenances if any(str(t.reference) in names for t in p.target)]
    if not mine:
        c.fail(codes.RESOURCE_REQUIRED, "a Provenance must target the MessageHeader")
        return None
    prov = mine[0]
    coding = [
        x
        for x in (prov.activity.coding or [] if prov.activity else [])
        if x.system == codes.ACTIVITY_CODES
    ]
    if not coding or coding[0].code not in codes.CC_ACTIVITIES:
        c.fail(
            codes.VALUESET_VALUE_UNKNOWN, "Provenance.activity must be a CareCommunication activity"
        )
        return None
    if prov.occurredDateTime is None:
        c.fail(codes.RESOURCE_REQUIRED, "Provenance.occurredDateTime is required")
        return None
    return str(coding[0].code), fhir_datetime(prov.occurredDateTime)


def _communication(
    c: Checker,
    comm: Communication,
    header_id: str,
    sender: Organisation | None,
    receiver: Organisation | None,
) -> CareCommunication | None:
    c.profiled(comm, codes.PROFILE_CC_COMMUNICATION, "Communication")
    if comm.status != codes.EVENT_STATUS_UNKNOWN:
        c.fail(codes.VALUESET_VALUE_UNKNOWN, "Communication.status must be 'unknown'")
    idents = [str(i.value) for i in comm.identifier or [] if i.value]
    if len(idents) != 1 or not idents[0].startswith("urn:uuid:") or not UUID.match(idents[0][9:]):
        c.fail(codes.ID_INVALID, "Communication.identifier must be one urn:uuid")
    codings = [x for cat in comm.category or [] for x in cat.coding or []]
    category = (
        codings[0].code if len(codings) == 1 and codings[0].system == codes.CATEGORY_CODES else None
    )
    if category not in codes.CATEGORIES:
        c.fail(
            codes.VALUESET_VALUE_UNKNOWN,
            "Communication.category is not a CareCommunication category",
        )
    if comm.priority is not None and (category != "regarding-referral" or comm.priority != "asap"):
        c.fail(
            codes.VALUESET_VALUE_UNKNOWN,
            "Communication.priority is only 'asap', only with category regarding-referral",
        )
    topic = comm.topic.text if comm.topic else None
    if category == "other" and not topic:
        c.fail(
            codes.RESOURCE_REQUIRED,
            "Communication.topic.text is required when the category is 'other'",
        )
    if topic is not None and len(topic) > 60:
        c.fail(codes.ELEMENT_TOO_LONG, "Communication.topic.text is longer than 60 characters")
    patient = c.resolve(comm.subject, Patient, "Communication.subject")
    person = _patient(c, patient) if patient is not None else None
    segments = [c.segment(i, p, None) for i, p in enumerate(comm.payload or [])]
    if not any(isinstance(s, TextSegment) for s in segments):
        c.fail(codes.RESOURCE_REQUIRED, "Communication.payload needs at least one text")
    if c.issues or person is None or sender is None or receiver is None or category is None:
        return None
    return CareCommunication(
        header_id=header_id,
        communication_id=idents[0][9:],
        activity="new-message",
        sent_at="",
        sender=sender,
        receiver=receiver,
        cpr=person[0],
        given_names=person[1],
        family_name=person[2],
        category=str(category),
        priority=None if comm.priority is None else str(comm.priority),
        topic=None if topic is None else str(topic),
        segments=tuple(s for s in segments if s is not None),
    )


def _patient(c: Checker, patient: Patient) -> tuple[str, tuple[str, ...], str] | None:
    c.profiled(patient, codes.PROFILE_PATIENT, "Patient")
    numbers = [str(i.value) for i in patient.identifier or [] if i.system == codes.CPR and i.value]
    if len(numbers) != 1 or not CPR_SHAPE.match(numbers[0]):
        c.fail(
            codes.DATATYPE_WRONG,
            f"Patient.identifier must hold one CPR number ({codes.CPR}, ten digits)",
        )
        return None
    names = patient.name or []
    given = tuple(str(g) for n in names[:1] for g in n.given or [])
    family = names[0].family if names else None
    if not given or not family:
        c.fail(codes.RESOURCE_REQUIRED, "Patient.name needs given and family names")
        return None
    return numbers[0], given, str(family)

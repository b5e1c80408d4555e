"""Build a MedCom CareCommunication message bundle from a ``care.communication`` document.

One bundle per attempt: ``header_id`` is the message's MessageHeader.id (the same on every
resend), ``bundle_id`` and ``timestamp`` are the attempt's own (MedCom: a resent message gets a
new Bundle.id and Bundle.timestamp). Every other resource id is derived from the header id
(uuid5), so a resend carries the same message, resource for resource.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from fhir.resources.R4B.attachment import Attachment
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.communication import Communication, CommunicationPayload
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.identifier import Identifier
from fhir.resources.R4B.messageheader import (
    MessageHeader,
    MessageHeaderDestination,
    MessageHeaderSource,
)
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.provenance import Provenance, ProvenanceAgent
from fhir.resources.R4B.reference import Reference
from fhir.resources.R4B.resource import Resource

from schemas.medcom import codes
from schemas.medcom.document import (
    Author,
    CareCommunication,
    Organisation,
    Segment,
    TextSegment,
)

FHIR_JSON = "application/fhir+json"


def when(text: str) -> datetime:
    """A dateTime of the document (ISO 8601 with an offset) for the FHIR models."""
    return datetime.fromisoformat(text)


def derived_id(base: str, name: str) -> str:
    """A resource id derived from ``base`` (a UUID): the same for the same message."""
    return str(uuid.uuid5(uuid.UUID(base), name))


def ref(resource_id: str) -> Reference:
    return Reference(reference=f"urn:uuid:{resource_id}")


def meta(profile: str) -> Meta:
    return Meta(profile=[profile])


def organization(resource_id: str, org: Organisation) -> Organization:
    return Organization(
        id=resource_id,
        meta=meta(codes.PROFILE_ORGANIZATION),
        identifier=[
            Identifier(system=codes.SOR, value=org.sor),
            Identifier(system=codes.EAN, value=org.ean),
        ],
        name=org.name,
    )


def header_destination(receiver_id: str, receiver: Organisation) -> MessageHeaderDestination:
    use = Extension(
        url=codes.DESTINATION_USE_EXTENSION,
        valueCoding=Coding(system=codes.DESTINATION_USE, code="primary"),
    )
    return MessageHeaderDestination(
        extension=[use],
        endpoint=codes.SOR_ENDPOINT + receiver.sor,
        receiver=ref(receiver_id),
    )


def entries(resources: list[Resource]) -> list[BundleEntry]:
    return [BundleEntry(fullUrl=f"urn:uuid:{r.id}", resource=r) for r in resources]


def to_json(bundle: Bundle) -> bytes:
    """The bundle as FHIR JSON (no nulls), UTF-8."""
    return bundle.model_dump_json(exclude_none=True).encode("utf-8")


def _author_resources(
    header_id: str, index: int, author: Author
) -> tuple[Practitioner, PractitionerRole]:
    practitioner = Practitioner(
        id=derived_id(header_id, f"Practitioner/{index}"),
        meta=meta(codes.PROFILE_PRACTITIONER),
        name=[HumanName(family=author.family, given=[author.given])],
    )
    role = PractitionerRole(
        id=derived_id(header_id, f"PractitionerRole/{index}"),
        meta=meta(codes.PROFILE_PRACTITIONER_ROLE),
        practitioner=ref(str(practitioner.id)),
        code=[CodeableConcept(text=author.role)],
    )
    return practitioner, role


def _payload(segment: Segment, sender_id: str, role_id: str | None) -> CommunicationPayload:
    extensions = [
        Extension(url=codes.EXT_DATE, valueDateTime=when(segment.date)),
        Extension(
            url=codes.EXT_IDENTIFIER,
            valueIdentifier=Identifier(value=f"urn:uuid:{segment.id}", assigner=ref(sender_id)),
        ),
    ]
    if role_id is not None:
        extensions.append(Extension(url=codes.EXT_AUTHOR, valueReference=ref(role_id)))
    if isinstance(segment, TextSegment):
        contact = ContactPoint(system="phone", value=segment.phone)
        extensions.append(Extension(url=codes.EXT_AUTHOR_CONTACT, valueContactPoint=contact))
        return CommunicationPayload(extension=extensions, contentString=segment.content)
    attachment = Attachment(
        contentType=segment.content_type,
        data=base64.b64encode(segment.data),
        title=segment.title,
    )
    return CommunicationPayload(extension=extensions, contentAttachment=attachment)


def build_message(doc: CareCommunication, header_id: str, bundle_id: str, timestamp: str) -> Bundle:
    """The CareCommunication message bundle of ``doc`` for one attempt."""
    sender_id = derived_id(header_id, "Organization/sender")
    receiver_id = derived_id(header_id, "Organization/receiver")
    patient_id = derived_id(header_id, "Patient")
    communication_id = derived_id(header_id, "Communication")
    authors: dict[Author, str] = {}
    people: list[Resource] = []
    payloads: list[CommunicationPayload] = []
    for segment in doc.segments:
        role_id = None
        if segment.author is not None:
            if segment.author not in authors:
                practitioner, role = _author_resources(header_id, len(authors), segment.author)
                authors[segment.author] = str(role.id)
                people += [role, practitioner]
            role_id = authors[segment.author]
        payloads.append(_payload(segment, sender_id, role_id))
    header = MessageHeader(
        id=header_id,
        meta=meta(codes.PROFILE_CC_HEADER),
        eventCoding=Coding(system=codes.EVENT_CODES, code=codes.EVENT_CARE_COMMUNICATION),
        destination=[header_destination(receiver_id, doc.receiver)],
        sender=ref(sender_id),
        source=MessageHeaderSource(endpoint=codes.SOR_ENDPOINT + doc.sender.sor),
        focus=[ref(communication_id)],
        definition=codes.CC_DEFINITION,
    )
    patient = Patient(
        id=patient_id,
        meta=meta(codes.PROFILE_PATIENT),
        identifier=[Identifier(system=codes.CPR, value=doc.cpr.replace("-", ""))],
        name=[HumanName(family=doc.family_name, given=list(doc.given_names))],
    )
    category = CodeableConcept(coding=[Coding(system=codes.CATEGORY_CODES, code=doc.category)])
    communication = Communication(
        id=communication_id,
        meta=meta(codes.PROFILE_CC_COMMUNICATION),
        identifier=[Identifier(value=f"urn:uuid:{doc.communication_id}")],
        status=codes.EVENT_STATUS_UNKNOWN,
        category=[category],
        subject=ref(patient_id),
        payload=payloads,
    )
    if doc.priority is not None:
        communication.priority = doc.priority
    if doc.topic is not None:
        communication.topic = CodeableConcept(text=doc.topic)
    provenance = Provenance(
        id=derived_id(header_id, "Provenance"),
        meta=meta(codes.PROFILE_CC_PROVENANCE),
        target=[ref(header_id)],
        occurredDateTime=when(doc.sent_at),
        recorded=when(doc.sent_at),
        activity=CodeableConcept(coding=[Coding(system=codes.ACTIVITY_CODES, code=doc.activity)]),
        agent=[ProvenanceAgent(who=ref(sender_id))],
    )
    resources: list[Resource] = [
        header,
        organization(sender_id, doc.sender),
        organization(receiver_id, doc.receiver),
        patient,
        communication,
        *people,
        provenance,
    ]
    return Bundle(
        id=bundle_id,
        meta=meta(codes.PROFILE_CC_MESSAGE),
        type="message",
        timestamp=when(timestamp),
        entry=entries(resources),
    )

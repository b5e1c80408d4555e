"""The checks of one CareCommunication bundle: the issues found and the checker that finds them.

``_Checker`` holds a parsed bundle, resolves references inside it (by ``fullUrl`` and by
``Type/id``) and checks the parts that repeat (organisations, payload segments, authors);
``schemas.medcom.reading`` walks the message with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import CommunicationPayload
from fhir.resources.R4B.extension import Extension
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.reference import Reference

from schemas.medcom import codes
from schemas.medcom.document import (
    AttachmentSegment,
    Author,
    CareCommunication,
    Organisation,
    Segment,
    TextSegment,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CPR_SHAPE = re.compile(r"^[0-9]{10}$")


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a message: a MedCom acknowledgement error code and a text that
    names the element (never its personal content)."""

    code: str
    text: str


@dataclass
class Invalid(Exception):
    """The message breaks a rule. ``header_id``/``bundle_id`` are what could be read of it
    (an acknowledgement needs the first), ``sender``/``receiver`` its organisations."""

    issues: list[Issue]
    header_id: str | None = None
    bundle_id: str | None = None
    sender: Organisation | None = None
    receiver: Organisation | None = None

    def __str__(self) -> str:
        return "; ".join(f"{i.code}: {i.text}" for i in self.issues)


@dataclass(frozen=True)
class ReadMessage:
    document: CareCommunication  # header_id set to the MessageHeader.id
    header_id: str
    bundle_id: str
    timestamp: str
    extra: dict[str, str] = field(default_factory=dict)


def fhir_datetime(value: object) -> str:
    """A FHIR dateTime as the hub writes it (ISO 8601 with an offset)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _resolver(bundle: Bundle) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for entry in bundle.entry or []:
        resource = entry.resource
        if resource is None:
            continue
        if entry.fullUrl:
            found[str(entry.fullUrl)] = resource
        if resource.id:
            found[f"{resource.get_resource_type()}/{resource.id}"] = resource
    return found


class Checker:
    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.issues: list[Issue] = []
        self.index = _resolver(bundle)

    def fail(self, code: str, text: str) -> None:
        self.issues.append(Issue(code, text))

    def resolve(self, reference: Reference | None, kind: type, where: str) -> Any:
        if reference is None or not reference.reference:
            self.fail(codes.RESOURCE_REQUIRED, f"{where}: a reference is required")
            return None
        target = self.index.get(str(reference.reference))
        if target is None:
            self.fail(codes.LOCAL_FAIL, f"{where}: {reference.reference} is not in the bundle")
            return None
        if not isinstance(target, kind):
            self.fail(codes.LOCAL_FAIL, f"{where}: must refer to a {kind.__name__}")
            return None
        return target

    def profiled(self, resource: Any, profile: str, where: str) -> None:
        profiles = [str(p) for p in (resource.meta.profile or [])] if resource.meta else []
        if not any(p == profile or p.startswith(profile + "|") for p in profiles):
            self.fail(codes.UNABLE_TO_RECEIVE_TYPE, f"{where}: meta.profile must name {profile}")

    def organisation(self, reference: Reference | None, where: str) -> Organisation | None:
        org = self.resolve(reference, Organization, where)
        if org is None:
            return None
        self.profiled(org, codes.PROFILE_ORGANIZATION, where)
        ids = {str(i.system): str(i.value) for i in org.identifier or [] if i.system and i.value}
        sor, ean = ids.get(codes.SOR), ids.get(codes.EAN)
        if not sor or not re.fullmatch(r"[0-9]{6,18}", sor):
            self.fail(
                codes.RECEIVER_MISSING, f"{where}: a SOR identifier ({codes.SOR}) is required"
            )
        if not ean or not re.fullmatch(r"[0-9]{13}", ean):
            self.fail(
                codes.RECEIVER_MISSING, f"{where}: an EAN identifier ({codes.EAN}) is required"
            )
        if not org.name:
            self.fail(codes.RESOURCE_REQUIRED, f"{where}: Organization.name is required")
        if sor and ean and org.name:
            return Organisation(str(org.name), sor, ean)
        return None

    def extension(self, payload: CommunicationPayload, url: str) -> Extension | None:
        return next((e for e in payload.extension or [] if e.url == url), None)

    def author(self, reference: Reference | None, where: str) -> Author | None:
        role = self.resolve(reference, PractitionerRole, where)
        if role is None:
            return None
        texts = [c.text for c in role.code or [] if c.text]
        person = self.resolve(
            role.practitioner, Practitioner, f"{where} PractitionerRole.practitioner"
        )
        if not texts:
            self.fail(codes.RESOURCE_REQUIRED, f"{where}: PractitionerRole.code.text is required")
        if person is None:
            return None
        names = person.name or []
        given = [str(g) for n in names for g in n.given or []]
        family = next((str(n.family) for n in names if n.family), None)
        if not given or not family:
            self.fail(
                codes.RESOURCE_REQUIRED,
                f"{where}: the Practitioner's given and family name are required",
            )
            return None
        return Author(given[0], family, str(texts[0])) if texts else None

    def segment(
        self, i: int, payload: CommunicationPayload, sender_id: str | None
    ) -> Segment | None:
        where = f"Communication.payload[{i}]"
        date = self.extension(payload, codes.EXT_DATE)
        ident = self.extension(payload, codes.EXT_IDENTIFIER)
        author_ext = self.extension(payload, codes.EXT_AUTHOR)
        contact = self.extension(payload, codes.EXT_AUTHOR_CONTACT)
        if date is None or date.valueDateTime is None:
            self.fail(codes.RESOURCE_REQUIRED, f"{where}: the date extension is required")
        value = str(ident.valueIdentifier.value or "") if ident and ident.valueIdentifier else ""
        if not (value.startswith("urn:uuid:") and UUID.match(value[9:])):
            self.fail(codes.ID_INVALID, f"{where}: the identifier extension must be a urn:uuid")
        author = None
        if author_ext is not None:
            author = self.author(author_ext.valueReference, f"{where} author")
        if date is None or date.valueDateTime is None or not UUID.match(value[9:]):
            return None
        when = fhir_datetime(date.valueDateTime)
        if payload.contentString is not None:
            phone = (
                contact.valueContactPoint.value if contact and contact.valueContactPoint else None
            )
            if author_ext is None or not phone:
                self.fail(
                    codes.RESOURCE_REQUIRED, f"{where}: a text needs its author and author contact"
                )
                return None
            if author is None:
                return None
            return TextSegment(value[9:], when, author, str(phone), str(payload.contentString))
        attachment = payload.contentAttachment
        if (
            attachment is None
            or attachment.data is None
            or not attachment.title
            or not attachment.contentType
        ):
            self.fail(
                codes.RESOURCE_REQUIRED, f"{where}: an attachment needs data, title and contentType"
            )
            return None
        return AttachmentSegment(
            value[9:],
            when,
            author,
            str(attachment.title),
            str(attachment.contentType),
            bytes(attachment.data),
        )

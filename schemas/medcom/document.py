"""The ``care.communication`` v1 document as Python values, and its XML form.

``to_xml`` writes one fixed form (namespace as default, elements in schema order, UTF-8, no
declaration), so a document read by ``from_xml`` and written again is the same bytes: a
CareCommunication that went through FHIR and back compares equal byte for byte.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import cast

from lxml import etree

NS = "urn:omsorgshub:care.communication:1"
ROOT = f"{{{NS}}}CareCommunication"


@dataclass(frozen=True)
class Organisation:
    name: str
    sor: str
    ean: str


@dataclass(frozen=True)
class Author:
    given: str
    family: str
    role: str


@dataclass(frozen=True)
class TextSegment:
    id: str
    date: str
    author: Author
    phone: str
    content: str


@dataclass(frozen=True)
class AttachmentSegment:
    id: str
    date: str
    author: Author | None
    title: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # the content may be a scanned letter about the patient
        return f"AttachmentSegment(id={self.id!r}, {len(self.data)} bytes)"


Segment = TextSegment | AttachmentSegment


@dataclass(frozen=True)
class CareCommunication:
    communication_id: str
    activity: str
    sent_at: str
    sender: Organisation
    receiver: Organisation
    cpr: str  # DDMMYYSSSS or DDMMYY-SSSS, as written
    given_names: tuple[str, ...]
    family_name: str
    category: str
    segments: tuple[Segment, ...]
    header_id: str | None = None
    priority: str | None = None
    topic: str | None = None

    def __repr__(self) -> str:  # never the person: reprs end up in logs
        return (
            f"CareCommunication(communication_id={self.communication_id!r}, "
            f"category={self.category!r}, {len(self.segments)} segment(s))"
        )


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def _add(parent: etree._Element, name: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, _q(name))
    child.text = text
    return child


def _organisation(parent: etree._Element, name: str, org: Organisation) -> None:
    element = etree.SubElement(parent, _q(name))
    _add(element, "Name", org.name)
    _add(element, "Sor", org.sor)
    _add(element, "Ean", org.ean)


def _author(parent: etree._Element, author: Author) -> None:
    element = etree.SubElement(parent, _q("Author"))
    _add(element, "GivenName", author.given)
    _add(element, "FamilyName", author.family)
    _add(element, "Role", author.role)


def to_xml(doc: CareCommunication) -> bytes:
    """The document in its one fixed XML form."""
    root = etree.Element(ROOT, nsmap=cast("dict[str, str]", {None: NS}))
    if doc.header_id is not None:
        _add(root, "MessageHeaderId", doc.header_id)
    _add(root, "CommunicationId", doc.communication_id)
    _add(root, "Activity", doc.activity)
    _add(root, "SentAt", doc.sent_at)
    _organisation(root, "Sender", doc.sender)
    _organisation(root, "Receiver", doc.receiver)
    patient = etree.SubElement(root, _q("Patient"))
    _add(patient, "IdentityNumber", doc.cpr).set("scheme", "dk")
    for given in doc.given_names:
        _add(patient, "GivenName", given)
    _add(patient, "FamilyName", doc.family_name)
    _add(root, "Category", doc.category)
    if doc.priority is not None:
        _add(root, "Priority", doc.priority)
    if doc.topic is not None:
        _add(root, "Topic", doc.topic)
    for segment in doc.segments:
        if isinstance(segment, TextSegment):
            element = etree.SubElement(root, _q("Text"))
            _add(element, "Id", segment.id)
            _add(element, "Date", segment.date)
            _author(element, segment.author)
            _add(element, "AuthorPhone", segment.phone)
            _add(element, "Content", segment.content)
        else:
            element = etree.SubElement(root, _q("Attachment"))
            _add(element, "Id", segment.id)
            _add(element, "Date", segment.date)
            if segment.author is not None:
                _author(element, segment.author)
            _add(element, "Title", segment.title)
            _add(element, "ContentType", segment.content_type)
            _add(element, "Data", base64.b64encode(segment.data).decode("ascii"))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=False)


def _text(parent: etree._Element, name: str) -> str:
    found = parent.find(_q(name))
    if found is None or found.text is None:
        raise ValueError(f"care.communication: {name} is missing")
    return found.text


def _optional(parent: etree._Element, name: str) -> str | None:
    found = parent.find(_q(name))
    return None if found is None else (found.text or "")


def _read_organisation(parent: etree._Element, name: str) -> Organisation:
    element = parent.find(_q(name))
    if element is None:
        raise ValueError(f"care.communication: {name} is missing")
    return Organisation(_text(element, "Name"), _text(element, "Sor"), _text(element, "Ean"))


def _read_author(parent: etree._Element) -> Author | None:
    element = parent.find(_q("Author"))
    if element is None:
        return None
    return Author(_text(element, "GivenName"), _text(element, "FamilyName"), _text(element, "Role"))


def from_element(root: etree._Element) -> CareCommunication:
    """Read a document that passed the type's XSD (the registry checked it)."""
    if root.tag != ROOT:
        raise ValueError(f"not a care.communication document: {root.tag}")
    patient = root.find(_q("Patient"))
    assert patient is not None
    segments: list[Segment] = []
    for element in root:
        if element.tag == _q("Text"):
            author = _read_author(element)
            assert author is not None
            segments.append(
                TextSegment(
                    _text(element, "Id"),
                    _text(element, "Date"),
                    author,
                    _text(element, "AuthorPhone"),
                    _text(element, "Content"),
                )
            )
        elif element.tag == _q("Attachment"):
            segments.append(
                AttachmentSegment(
                    _text(element, "Id"),
                    _text(element, "Date"),
                    _read_author(element),
                    _text(element, "Title"),
                    _text(element, "ContentType"),
                    base64.b64decode(_text(element, "Data")),
                )
            )
    return CareCommunication(
        header_id=_optional(root, "MessageHeaderId"),
        communication_id=_text(root, "CommunicationId"),
        activity=_text(root, "Activity"),
        sent_at=_text(root, "SentAt"),
        sender=_read_organisation(root, "Sender"),
        receiver=_read_organisation(root, "Receiver"),
        cpr=_text(patient, "IdentityNumber"),
        given_names=tuple(g.text or "" for g in patient.findall(_q("GivenName"))),
        family_name=_text(patient, "FamilyName"),
        category=_text(root, "Category"),
        priority=_optional(root, "Priority"),
        topic=_optional(root, "Topic"),
        segments=tuple(segments),
    )

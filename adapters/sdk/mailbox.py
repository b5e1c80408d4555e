"""An inbound SDK message as a ``mailbox.message`` v1 body (``schemas/xsd/mailbox.message-1.xsd``).

The input is the ``data.attributes`` of ``GET /sdk/messages/{id}`` (DIGG's REST API). What the
hub keeps of it: the SDK ids, both parties' organisation ids and functional addresses, the
subject line, the confidentiality flag, every person named by a ``referenceId`` with the
personnummer OID (in either party's attention) and each ``digitalDocument``'s text bodies and
files. Attention persons (officials' names) are left out: the hub does not need them. A message
that does not fit the type is refused by the hub's own validation at ingest, naming the element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from lxml import etree

MAILBOX_NS = "urn:omsorgshub:mailbox.message:1"
ENVELOPE_NS = "urn:omsorgshub:envelope:1"
PERSONNUMMER_OID = "1.2.752.129.2.1.3.1"


def mailbox_message_body(attributes: Mapping[str, Any]) -> bytes:
    """The ``MailboxMessage`` document for one SDK message's attributes."""
    # lxml takes None as the key of the default namespace; lxml-stubs only allow str keys.
    nsmap = cast("dict[str, str]", {None: MAILBOX_NS})
    root = etree.Element(f"{{{MAILBOX_NS}}}MailboxMessage", nsmap=nsmap)
    _text(root, "SdkMessageId", attributes.get("messageId"))
    _text(root, "ConversationId", attributes.get("conversationId"))
    if attributes.get("refToMessageId"):
        _text(root, "RefToMessageId", attributes.get("refToMessageId"))
    _text(root, "CreatedAt", attributes.get("creationDateTime"))
    _party(root, "Sender", attributes.get("sender"), attributes.get("senderAttention"))
    _party(root, "Recipient", attributes.get("recipient"), attributes.get("recipientAttention"))
    _text(root, "Label", attributes.get("label"))
    _text(root, "Confidential", "true" if attributes.get("confidentiality") is True else "false")
    for number in subject_numbers(attributes):
        _text(root, "Subject", number)
    for document in _list(attributes.get("digitalDocument")):
        _document(root, document)
    return etree.tostring(root, encoding="utf-8", xml_declaration=False)


def inbound_envelope(attributes: Mapping[str, Any], district: str, purpose: str) -> bytes:
    """The hub envelope of one inbound SDK message: ``mailbox.message`` v1 for ``district``,
    the SDK ``messageId`` as the sender's idempotency key, the persons as data subjects."""
    nsmap = cast("dict[str, str]", {None: ENVELOPE_NS})
    envelope = etree.Element(f"{{{ENVELOPE_NS}}}Envelope", nsmap=nsmap)
    header = etree.SubElement(envelope, f"{{{ENVELOPE_NS}}}Header")
    for name, value in (
        ("Type", "mailbox.message"),
        ("Version", "1"),
        ("District", district),
        ("Purpose", purpose),
        ("MessageId", str(attributes.get("messageId", ""))),
    ):
        etree.SubElement(header, f"{{{ENVELOPE_NS}}}{name}").text = value
    numbers = subject_numbers(attributes)
    if numbers:
        listing = etree.SubElement(header, f"{{{ENVELOPE_NS}}}DataSubjects")
        for number in numbers:
            etree.SubElement(listing, f"{{{ENVELOPE_NS}}}Subject", scheme="se").text = number
    body = etree.SubElement(envelope, f"{{{ENVELOPE_NS}}}Body")
    body.append(etree.fromstring(mailbox_message_body(attributes)))
    return etree.tostring(envelope, encoding="UTF-8", xml_declaration=True)


def subject_numbers(attributes: Mapping[str, Any]) -> list[str]:
    """The personnummer of every ``referenceId`` with the personnummer OID, first seen first."""
    numbers: list[str] = []
    for key in ("recipientAttention", "senderAttention"):
        attention = attributes.get(key)
        if not isinstance(attention, Mapping):
            continue
        for reference in _list(attention.get("referenceId")):
            if reference.get("root") == PERSONNUMMER_OID:
                number = str(reference.get("extension", ""))
                if number and number not in numbers:
                    numbers.append(number)
    return numbers


def _party(root: etree._Element, tag: str, organisation: Any, attention: Any) -> None:
    party = etree.SubElement(root, f"{{{MAILBOX_NS}}}{tag}")
    _text(party, "OrganizationId", organisation)
    if isinstance(attention, Mapping):
        sub = attention.get("subOrganization")
        if isinstance(sub, Mapping) and sub.get("extension"):
            _text(party, "FunctionalAddress", sub.get("extension"))


def _document(root: etree._Element, document: Mapping[str, Any]) -> None:
    element = etree.SubElement(root, f"{{{MAILBOX_NS}}}Document")
    _text(element, "DocumentId", document.get("documentId"))
    if document.get("documentName"):
        _text(element, "Name", document.get("documentName"))
    for text in document.get("contentTextBody") or ():
        _text(element, "Text", text)
    for file in _list(document.get("contentFiles")):
        attachment = etree.SubElement(element, f"{{{MAILBOX_NS}}}Attachment")
        _text(attachment, "FileName", file.get("fileName"))
        _text(attachment, "ContentType", file.get("contentType"))
        _text(attachment, "Content", file.get("content"))


def _list(value: Any) -> Sequence[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [item for item in value if isinstance(item, Mapping)]


def _text(parent: etree._Element, tag: str, value: Any) -> None:
    # A missing or non-text value becomes an empty element: the XSD then names it at ingest.
    etree.SubElement(parent, f"{{{MAILBOX_NS}}}{tag}").text = "" if value is None else str(value)

"""An ``OutboundDelivery`` as the ``data.attributes`` of ``POST /sdk/messages``.

Any hub document travels as a base64 file of ``digitalDocument`` (``contentFiles``), beside a
readable summary (``contentTextBody``). For ``case.referral`` v1 (Äldre direkt's referral to a
district's functional mailbox, seeds 000 and 001) the label and summary name the case type,
class, affected unit and urgency, and the person becomes a ``referenceId`` with the personnummer
OID; other types get a generic label and summary. ``confidentiality`` is always true: every
message type the hub carries holds personal data about care (``identity`` and more).

``messageId`` is ``sdk_message_id(delivery_id)``, the same for every attempt of one delivery;
as a new conversation, ``conversationId`` is the same id. ``creationDateTime`` is when the hub
received the message, so that a resend is the same message, byte for byte.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from lxml import etree

from adapters.sdk.ids import sdk_message_id
from hub.envelope import OutboundDelivery

FUNCTIONAL_ADDRESS_ROOT = "urn:riv:infrastructure:messaging:functionalAddress"
PERSONNUMMER_OID = "1.2.752.129.2.1.3.1"
REFERRAL_NS = "urn:omsorgshub:case.referral:1"
_URGENCY = {"urgent": "brådskande, ring tillbaka i dag", "normal": "inom två arbetsdagar"}


@dataclass(frozen=True)
class Party:
    """An organisation id (``0203:...``) and one of its functional addresses."""

    organization: str
    functional_address: str
    label: str | None = None

    def attention(self) -> dict[str, Any]:
        sub: dict[str, Any] = {
            "root": FUNCTIONAL_ADDRESS_ROOT,
            "extension": self.functional_address,
        }
        if self.label:
            sub["label"] = self.label
        return {"subOrganization": sub}


def message_attributes(
    delivery: OutboundDelivery, sender: Party, recipient: Party
) -> dict[str, Any]:
    """The request's ``data.attributes`` for ``delivery`` from ``sender`` to ``recipient``."""
    message_id = sdk_message_id(delivery.delivery_id)
    label, summary, persons = _describe(delivery)
    recipient_attention = recipient.attention()
    if persons:
        recipient_attention["referenceId"] = [
            {"root": PERSONNUMMER_OID, "extension": number, "label": name}
            for number, name in persons
        ]
    created = delivery.created_at.astimezone(UTC)
    return {
        "messageId": message_id,
        "conversationId": message_id,
        "creationDateTime": created.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{created.microsecond // 1000:03d}Z",
        "confidentiality": True,
        "label": label[:256],
        "sender": sender.organization,
        "recipient": recipient.organization,
        "senderAttention": sender.attention(),
        "recipientAttention": recipient_attention,
        "digitalDocument": [
            {
                "documentId": delivery.delivery_id,
                "documentName": f"{delivery.message_type} v{delivery.version}",
                "index": "1",
                "contentTextBody": [summary],
                "contentFiles": [
                    {
                        "fileName": f"{delivery.message_type}-{delivery.message_id}.xml",
                        "contentType": delivery.content_type,
                        "content": base64.b64encode(delivery.document).decode("ascii"),
                    }
                ],
            }
        ],
    }


def _describe(delivery: OutboundDelivery) -> tuple[str, str, list[tuple[str, str]]]:
    """Label, readable summary and ``(personnummer, name)`` of the persons, by message type."""
    generic: tuple[str, str, list[tuple[str, str]]] = (
        f"{delivery.message_type} v{delivery.version} från {delivery.sender}",
        f"Meddelande {delivery.message_type} v{delivery.version} från {delivery.sender} "
        f"till {delivery.district} ({delivery.purpose}); dokumentet är bifogat.",
        [],
    )
    if (delivery.message_type, delivery.version) != ("case.referral", "1"):
        return generic
    try:
        root = etree.fromstring(
            delivery.document, etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except etree.XMLSyntaxError:
        return generic
    if root.tag != f"{{{REFERRAL_NS}}}CaseReferral":
        return generic

    def text(path: str) -> str:
        found = root.findtext(path, default="", namespaces={"r": REFERRAL_NS})
        return " ".join(found.split())

    urgency = text("r:Urgency")
    case_type = text("r:CaseType").replace("_", " ")
    label = f"Remiss från Äldre direkt: {case_type}" + (
        " (brådskande)" if urgency == "urgent" else ""
    )
    lines = [
        f"Ärende {text('r:CaseId')} registrerat {text('r:RegisteredAt')}.",
        f"Kategori: {text('r:MainCategory')}, typ: {case_type}, klass: {text('r:CaseClass')}.",
        f"Berörd enhet: {text('r:AffectedUnit')}.",
        f"Återkoppling: {_URGENCY.get(urgency, urgency)}.",
    ]
    phone = text("r:Callback/r:Phone")
    if phone:
        lines.append(f"Önskar bli uppringd på {phone}.")
    lines.append(f"Ärendet: {text('r:FreeText')}")
    persons: list[tuple[str, str]] = []
    for subject in root.iterfind("r:DataSubject", namespaces={"r": REFERRAL_NS}):
        number = subject.findtext("r:IdentityNumber", default="", namespaces={"r": REFERRAL_NS})
        scheme = subject.find("r:IdentityNumber", namespaces={"r": REFERRAL_NS})
        name = subject.findtext("r:Name", default="", namespaces={"r": REFERRAL_NS})
        if number.strip() and (scheme is None or scheme.get("scheme", "se") == "se"):
            persons.append((number.strip(), " ".join(name.split()) or "okänd"))
    return label, "\n".join(lines), persons

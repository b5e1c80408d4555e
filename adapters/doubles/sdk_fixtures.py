"""Fictional SDK messages a district sends to the hub's mailbox: for the double's inbox, the
demo and tests. Organisation ids and functional addresses are made up (``0203:`` is the ICD
SDK uses for Swedish organisation numbers; these numbers belong to nobody)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

from adapters.sdk.mailbox import PERSONNUMMER_OID

FUNCTIONAL_ADDRESS_ROOT = "urn:riv:infrastructure:messaging:functionalAddress"
HUB_ORGANISATION = "0203:2120009991"
HUB_MAILBOX = "sdk:inkorg:0203:2120009991:aldre-direkt"
DISTRICT_ORGANISATION = "0203:2120009991"
DISTRICT_MAILBOX = "sdk:inkorg:0203:2120009991:sodermalm"


def sdk_timestamp(moment: datetime | None = None) -> str:
    """``YYYY-MM-DDThh:mm:ss.sZ`` in UTC, as the message type's rules ask."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sdk_answer(
    person_number: str,
    rng: random.Random | None = None,
    *,
    ref_to: str | None = None,
    message_id: str | None = None,
    recipient_mailbox: str = HUB_MAILBOX,
    sender_mailbox: str = DISTRICT_MAILBOX,
) -> dict[str, Any]:
    """The ``data.attributes`` of a district's answer about one person, as the API has them."""
    rng = rng or random.Random()
    message_id = message_id or str(uuid.UUID(int=rng.getrandbits(128), version=4))
    attributes: dict[str, Any] = {
        "messageId": message_id,
        "conversationId": ref_to or message_id,
        "creationDateTime": sdk_timestamp(),
        "confidentiality": True,
        "label": "Svar: återkoppling på ärende från Äldre direkt",
        "sender": DISTRICT_ORGANISATION,
        "recipient": HUB_ORGANISATION,
        "senderAttention": {
            "subOrganization": {
                "root": FUNCTIONAL_ADDRESS_ROOT,
                "extension": sender_mailbox,
                "label": "Stadsdelens funktionsbrevlåda (fiktiv)",
            }
        },
        "recipientAttention": {
            "subOrganization": {
                "root": FUNCTIONAL_ADDRESS_ROOT,
                "extension": recipient_mailbox,
                "label": "Äldre direkt (fiktiv)",
            },
            "referenceId": [
                {"root": PERSONNUMMER_OID, "extension": person_number, "label": "Testperson"}
            ],
        },
        "digitalDocument": [
            {
                "documentId": "1",
                "index": "1",
                "contentTextBody": ["Vi har ringt upp personen och bokat ett hembesök."],
            }
        ],
    }
    if ref_to:
        attributes["refToMessageId"] = ref_to
    return attributes

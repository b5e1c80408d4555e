"""SDK message ids derived from the hub's own ids, so that every attempt of one delivery
is the same SDK message (the message service and the double de-duplicate on it) and a
district's answer can be matched to the referral it answers."""

from __future__ import annotations

import uuid

SDK_NAMESPACE = uuid.UUID("5b0e6f3c-8d2a-4f61-9c47-2e7a1d9b3f08")


def sdk_message_id(delivery_id: str) -> str:
    """The SDK ``messageId`` of one delivery; a new conversation uses it as its
    ``conversationId`` too, as the API prescribes."""
    return str(uuid.uuid5(SDK_NAMESPACE, f"message:{delivery_id}"))

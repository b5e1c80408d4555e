"""The SDK double's state: messages with their status life cycle, tokens, receipts, effects.

Kept apart from the HTTP routes (``adapters.doubles.sdk_double``) so that each stays small.
Every method is called under the double's lock.

Life cycle of a message the hub sends (DIGG's ``messageStatus``, the four a service must
support): ``NEW`` when received and validated; at a status read before its receipt is due,
``WAITING_FOR_RECEIPT``; once due, ``ACCEPTED``, or ``REJECTED`` with a receipt reason (UBL
``ApplicationResponse`` style: a line response coded ``BV`` with the rule id), or
``MESSAGE_EXCHANGE_ERROR`` (no receipt from the recipient's access point). What happens is the
receipt plan in force when the message was received (``set_receipts``): ``accept``, ``reject``,
``exchange_error`` or ``lose`` (it stays ``WAITING_FOR_RECEIPT`` for ever), after ``after``
seconds. Messages placed in an inbox (``place``) are ``NEW`` to their recipient.
"""

from __future__ import annotations

import copy
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

ReceiptOutcome = Literal["accept", "reject", "exchange_error", "lose"]
RECEIPT_OUTCOMES: tuple[str, ...] = get_args(ReceiptOutcome)
SCOPES = frozenset(
    {
        "urn:sdk.api:sendMessage",
        "urn:sdk.api:getMessage",
        "urn:sdk.api:getMessageByFilter",
        "urn:sdk.api:deleteMessage",
    }
)
FINAL = {"accept": "ACCEPTED", "reject": "REJECTED", "exchange_error": "MESSAGE_EXCHANGE_ERROR"}
DELETABLE = frozenset({"NEW", "ACCEPTED", "REJECTED", "MESSAGE_EXCHANGE_ERROR", "RETRIEVED"})
REJECTION = {
    "typeCode": "REJECTED",
    "title": "Meddelandekvittens: ResponseCode REJECTED",
    "detail": "BV SDK-MT-017: the recipient's functional address does not take this message",
    "in": "DocumentResponse/LineResponse",
}
EXCHANGE_ERROR = {
    "typeCode": "MESSAGE_EXCHANGE_ERROR",
    "title": "No message receipt received from the recipient. Message NOT delivered.",
    "detail": "NA",
    "in": "AS4",
}


@dataclass
class StoredMessage:
    attributes: dict[str, Any]  # as the service completed them (ids, timestamp)
    received: float  # monotonic
    outcome: ReceiptOutcome
    after: float
    status: str = "NEW"
    inbound: bool = False  # placed in an inbox for the hub, not sent by it

    def advance(self, now: float) -> str | None:
        """Move on in the life cycle at a status read; the new status, or None."""
        if self.inbound or self.status not in ("NEW", "WAITING_FOR_RECEIPT"):
            return None
        due = self.outcome != "lose" and now - self.received >= self.after
        new = FINAL[self.outcome] if due else "WAITING_FOR_RECEIPT"
        if new == self.status:
            return None
        self.status = new
        return new

    def view(self, *, with_documents: bool) -> dict[str, Any]:
        attributes = copy.deepcopy(self.attributes)
        attributes["messageStatus"] = self.status
        if not with_documents:
            attributes.pop("digitalDocument", None)
        issue = {"REJECTED": REJECTION, "MESSAGE_EXCHANGE_ERROR": EXCHANGE_ERROR}.get(self.status)
        if issue is not None:
            attributes["events"] = {
                "type": "urn:problem-type:sdk:messageExchangeError",
                "title": "Message not delivered",
                "detail": self.status,
                "instance": self.attributes["messageId"],
                "eventIssues": [dict(issue)],
            }
        return {"type": "messages", "id": self.attributes["messageId"], "attributes": attributes}


@dataclass
class SdkState:
    token_lifetime: float
    receipt_outcome: ReceiptOutcome = "accept"
    receipt_after: float = 0.0
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    tokens: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    effects: dict[str, list[str]] = field(default_factory=dict)
    issued: int = 0

    def record(self, message_id: str, effect: str) -> None:
        self.effects.setdefault(message_id, []).append(effect)

    # -- tokens -------------------------------------------------------------------------------

    def issue(self, scopes: frozenset[str]) -> tuple[str, float]:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (time.monotonic() + self.token_lifetime, scopes)
        self.issued += 1
        return token, self.token_lifetime

    def scopes_of(self, token: str) -> frozenset[str] | None:
        """The token's scopes, or None if unknown or expired."""
        found = self.tokens.get(token)
        if found is None or found[0] <= time.monotonic():
            return None
        return found[1]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    # -- messages -----------------------------------------------------------------------------

    def receive(self, attributes: dict[str, Any]) -> bool:
        """Store a message sent to the service; False if its messageId was there already."""
        message_id = attributes["messageId"]
        if message_id in self.messages:
            self.record(message_id, "duplicate")
            return False
        self.messages[message_id] = StoredMessage(
            attributes, time.monotonic(), self.receipt_outcome, self.receipt_after
        )
        self.record(message_id, "received")
        return True

    def place(self, attributes: dict[str, Any]) -> None:
        """Put a message in an inbox (an answer from a district), ``NEW`` to its recipient."""
        message_id = attributes["messageId"]
        self.messages[message_id] = StoredMessage(
            attributes, time.monotonic(), "accept", 0.0, inbound=True
        )
        self.record(message_id, "placed")

    def read(self, message_id: str) -> StoredMessage | None:
        message = self.messages.get(message_id)
        if message is not None:
            new = message.advance(time.monotonic())
            if new is not None:
                self.record(message_id, f"status:{new}")
        return message

    def matching(self, filters: dict[str, str]) -> list[StoredMessage]:
        found = []
        for message_id in list(self.messages):
            message = self.read(message_id)
            if message is not None and all(
                _attribute(message, path) == value for path, value in filters.items()
            ):
                found.append(message)
        return found

    def delete(self, message_id: str) -> str | None:
        """Delete; None if done, else why not."""
        message = self.messages.get(message_id)
        if message is None:
            return "not found"
        if message.status not in DELETABLE:
            return f"a message in status {message.status} cannot be deleted"
        del self.messages[message_id]
        self.record(message_id, "deleted")
        return None


def _attribute(message: StoredMessage, path: str) -> str | None:
    value: Any = {**message.attributes, "messageStatus": message.status}
    for step in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(step)
    return None if value is None else str(value)

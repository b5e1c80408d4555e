"""The hub's message model: what ingest parses out of an envelope, and what an adapter is given.

These are plain frozen values with no I/O, shared by the pipeline, the delivery engine and the
adapters (``adapters/`` may import this module, ``hub.errors`` and ``hub.ports`` only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class DeliveryState(StrEnum):
    """The fixed life cycle of one delivery (one message to one destination)."""

    PENDING = "pending"  # stored, due, not yet handed to a worker
    IN_FLIGHT = "in_flight"  # claimed by a worker under a lease
    RETRYING = "retrying"  # an attempt failed transiently; due again at next_attempt_at
    # Handed over and validated; the destination's receipt is polled at next_attempt_at (SDK)
    AWAITING_RECEIPT = "awaiting_receipt"
    DELIVERED = "delivered"  # the destination acknowledged it
    DEAD = "dead"  # permanent error, attempts or age exhausted; needs a replay
    REFUSED = "refused"  # its agreement no longer allows it (revoked or expired)
    # Stored but not sent until approved: time reports by the sender's organisation, payments
    # that broke a working-time rule (hub.atl) by an officer; then pending, or REJECTED (never
    # sent). Never claimed by the relay meanwhile.
    HELD = "held"
    REJECTED = "rejected"

    @property
    def is_final(self) -> bool:
        return self in (
            DeliveryState.DELIVERED,
            DeliveryState.DEAD,
            DeliveryState.REFUSED,
            DeliveryState.REJECTED,
        )


@dataclass(frozen=True)
class EnvelopeHeader:
    """An ingested envelope's header as the sender wrote it (the sender comes from auth)."""

    message_type: str
    version: str
    district: str
    purpose: str
    message_id: str | None = None
    recipients: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundDelivery:
    """One attempt to hand one message to one destination.

    ``delivery_id`` is stable across attempts and is what adapters send as idempotency key.
    ``document`` is the decrypted body document (UTF-8 XML); it only ever lives in memory.
    """

    delivery_id: str
    message_id: str
    message_type: str
    version: str
    district: str
    purpose: str
    sender: str
    destination: str
    attempt: int
    document: bytes
    created_at: datetime
    content_type: str = "application/xml"


@dataclass(frozen=True)
class Receipt:
    """The destination's acknowledgement of a delivery."""

    reference: str | None = None
    duplicate: bool = False  # the destination had seen this idempotency key already
    details: dict[str, str] = field(default_factory=dict)
    # Taken but not yet acknowledged by the final recipient (SDK: 201 is "received and
    # validated" only): the delivery waits in ``awaiting_receipt`` and the relay polls the
    # adapter's ``ReceiptPoller.poll_receipt(reference)``.
    awaiting_receipt: bool = False


class ReceiptState(StrEnum):
    PENDING = "pending"  # no receipt yet: poll again later
    ACCEPTED = "accepted"  # the recipient acknowledged it: delivered
    REJECTED = "rejected"  # the recipient refused it, or the exchange failed: dead


@dataclass(frozen=True)
class ReceiptStatus:
    """What a destination says of a delivery that awaits its receipt.

    ``reason`` is a stable code (``receipt_rejected``, ``message_exchange_error``) and
    ``detail`` the readable reason a user sees; ``status`` is the system's own word for it
    (SDK ``messageStatus``)."""

    state: ReceiptState
    status: str
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class InboundDocument:
    """An envelope a pulled system (an SDK mailbox) has for the hub, sent by ``sender`` (a
    registered system) under the idempotency key ``key``."""

    sender: str
    key: str
    envelope: bytes


@dataclass(frozen=True)
class LookupRequest:
    """A synchronous question to a backend system (client summary, invoice status).

    ``subject`` is the canonical identity number when the lookup is about a person; it lives
    only in memory for the length of the call. ``request_id`` correlates the audit entry.
    """

    lookup: str  # e.g. "client_summary", "invoice_status"
    district: str
    purpose: str
    request_id: str
    subject: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LookupResult:
    """The answer, as plain JSON-able data; never stored by the hub."""

    data: dict[str, object]


@dataclass(frozen=True)
class ProtectedPerson:
    """A person a district's case system marks with protected identity now (its
    ``GetProtectedClients`` list). ``identity`` is the canonical number (Swedish 12 digits,
    Danish CPR 10), in memory only for the length of a sync: the hub stores its keyed HMAC."""

    identity: str
    scheme: str  # "se" | "dk"
    kind: str  # "protected_registration" (skyddad folkbokföring) | "confidentiality_marking"

    def __repr__(self) -> str:  # never a number in a log line or a traceback
        return f"ProtectedPerson(scheme={self.scheme!r}, kind={self.kind!r})"

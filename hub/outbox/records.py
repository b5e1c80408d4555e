"""The outbox's rows as plain values: a delivery, a claimed delivery, an outcome to record.

They live beside the relay and the delivery executor, not in ``hub.storage``: those depend on
the ports in ``hub.ports`` and on these values only, and the SQL store
(``hub.storage.deliveries``) fills them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.envelope import DeliveryState


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    message_id: str
    destination: str
    state: str
    attempts: int
    claim: int
    next_attempt_at: datetime
    lease_until: datetime | None
    last_error: str | None
    last_reason: str | None
    receipt_ref: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    sent_at: datetime | None = None  # handed over, awaiting the destination's receipt


@dataclass(frozen=True)
class ClaimedDelivery:
    """A claimed delivery with what an attempt needs of its message (ciphertext and data
    subjects included)."""

    delivery: DeliveryRow
    sender: str
    message_type: str
    version: str
    district: str
    purpose: str
    categories: tuple[str, ...]
    key_version: int
    ciphertext: bytes
    received_at: datetime
    subject_refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutcomeRow:
    """One attempt's outcome, to be recorded if its claim still holds.

    Named apart from ``audit.entry.Outcome`` (ok/refused/failed of an audit entry): this is
    the delivery row's new state."""

    delivery_id: str
    claim: int
    state: DeliveryState
    next_attempt_at: datetime | None = None
    error: str | None = None
    reason: str | None = None
    receipt_ref: str | None = None
    sent_at: datetime | None = None  # set when it starts awaiting a receipt


@dataclass(frozen=True)
class WaitingDelivery:
    """A delivery claimed for a receipt poll, with what its audit entries need (no payload:
    polling a receipt decrypts nothing)."""

    delivery_id: str
    claim: int
    destination: str
    receipt_ref: str
    sent_at: datetime
    message_id: str
    sender: str
    district: str
    purpose: str
    agreement_ref: str | None
    received_at: datetime
    subject_refs: tuple[str, ...] = ()

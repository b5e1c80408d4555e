"""The message rows ingest writes and reads back, as plain values.

They live beside the pipeline, not in ``hub.storage``: the pipeline depends on the ports in
``hub.ports`` and on these values only, and the SQL store (``hub.storage.messages``) fills them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StoredMessage:
    """A stored message without its payload (the ciphertext is read only where it is needed)."""

    id: str
    sender: str
    message_type: str
    version: str
    district: str
    purpose: str
    idempotency_key: str | None
    content_digest: str
    categories: tuple[str, ...]
    agreement_ref: str | None
    key_version: int
    size: int
    received_at: datetime


@dataclass(frozen=True)
class NewMessage:
    """A message to insert, with its sealed payload, its subjects, one delivery each and its
    business keys as stored: ``(name, value)``, the value a keyed HMAC where the key is
    protected (``hub.ingest.keys``)."""

    message: StoredMessage
    ciphertext: bytes
    subject_refs: tuple[str, ...]
    delivery_ids: tuple[tuple[str, str], ...]  # (delivery id, destination)
    business_keys: tuple[tuple[str, str], ...] = ()
    held: bool = False  # deliveries stored ``held`` until an approval (time reports)

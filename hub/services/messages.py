"""Messages and their deliveries as the faces use them: list, show, status, view, replay.

Listings and status carry metadata only. A person viewing a payload gets it decrypted in
memory, audited as ``viewed`` in the same transaction with the viewer's stated reason; a
shredded key answers "shredded", not garbage. A replay is audited as ``replayed`` with its
required reason. A message of a district outside the principal's scope is absent to it; a
system sees only its own messages (another system's is absent too: no oracle).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from hub.errors import InputError, NotFound, RetentionEnded
from hub.guards import AuditAction, AuditEvent, per_subject
from hub.keys import crypto
from hub.services.principal import Kind, Principal, as_principal
from hub.storage import deliveries as delivery_rows
from hub.storage import messages as message_rows
from hub.storage import retention as retention_rows
from hub.storage.deliveries import DeliveryRow
from hub.storage.messages import MessageSummary, StoredMessage

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "DeliveryRow",
    "MessageDetail",
    "MessageSummary",
    "Replay",
    "StoredMessage",
    "list_messages",
    "message_status",
    "replay_deliveries",
    "show_message",
    "view_payload",
]


@dataclass(frozen=True)
class MessageDetail:
    message: StoredMessage
    deliveries: list[DeliveryRow]

    @property
    def state(self) -> str:
        states: dict[str, int] = {}
        for d in self.deliveries:
            states[d.state] = states.get(d.state, 0) + 1
        return MessageSummary(self.message, states).state


def _absent(message_id: str) -> NotFound:
    return NotFound(f"no message {message_id!r}" if made_by_hub(message_id) else "no such message")


def made_by_hub(identifier: str) -> bool:
    """Message and delivery ids are UUIDs the hub made: anything else names nothing, and is
    never sent to the database (PostgreSQL answers a NUL byte in a text parameter with an
    error, not with a miss)."""
    try:
        return str(uuid.UUID(identifier)) == identifier
    except ValueError:
        return False


def list_messages(
    hub: Hub,
    principal: Principal,
    *,
    state: str | None = None,
    destination: str | None = None,
    limit: int = 50,
) -> list[MessageSummary]:
    """The newest messages with their delivery states, of the principal's districts."""
    principal.require(Kind.OPERATOR)
    with hub.reader.connect() as conn:
        return message_rows.list_messages(
            conn,
            state=state,
            destination=destination,
            districts=principal.districts,
            limit=limit,
        )


def _detail(hub: Hub, message_id: str) -> MessageDetail | None:
    if not made_by_hub(message_id):
        return None
    with hub.reader.connect() as conn:
        message = message_rows.get_message(conn, message_id)
        if message is None:
            return None
        return MessageDetail(message, delivery_rows.for_message(conn, message_id))


def show_message(hub: Hub, principal: Principal, message_id: str) -> MessageDetail:
    """A message's metadata and deliveries (an operator's view)."""
    principal.require(Kind.OPERATOR)
    detail = _detail(hub, message_id)
    if detail is None:
        raise _absent(message_id)
    principal.visible(detail.message.district, _absent(message_id).detail)
    return detail


def message_status(hub: Hub, principal: Principal, message_id: str) -> MessageDetail:
    """A sending system asks after its own message."""
    principal.require(Kind.SYSTEM)
    detail = _detail(hub, message_id)
    # Another system's message is reported as absent, not forbidden: no oracle.
    if detail is None or detail.message.sender != principal.name:
        raise NotFound(
            f"no message {message_id!r} from this system"
            if made_by_hub(message_id)
            else "no such message from this system"
        )
    return detail


def view_payload(hub: Hub, message_id: str, *, actor: Principal | str, reason: str) -> bytes:
    principal = as_principal(actor)
    principal.require(Kind.OPERATOR)
    if not reason.strip():
        raise InputError("viewing a payload needs a reason: every view of personal data is audited")
    if not made_by_hub(message_id):
        raise _absent(message_id)
    with hub.engine.begin() as conn:
        message = message_rows.get_message(conn, message_id)
        ciphertext = message_rows.get_ciphertext(conn, message_id)
        if message is None or ciphertext is None:
            raise _absent(message_id)
        principal.visible(message.district, _absent(message_id).detail)
        if crypto.is_shredded(ciphertext):
            raise _retention_ended(message, retention_rows.shredded_at(conn, message.id))
        key = hub.guards.key(conn, message.district, message.key_version)
        aad = crypto.payload_aad(message.id, message.district, message.message_type, key.version)
        document = crypto.unseal(key.key, ciphertext, aad)
        hub.guards.record(
            conn,
            per_subject(
                principal.did(
                    AuditAction.VIEWED,
                    purpose=message.purpose,
                    district=message.district,
                    agreement=message.agreement_ref,
                    message_id=message.id,
                    reason=reason,
                ),
                message_rows.subject_refs(conn, message.id),
            ),
        )
    return document


def _retention_ended(message: StoredMessage, at: datetime | None) -> RetentionEnded:
    when = at.isoformat() if at is not None else "an unrecorded time"
    return RetentionEnded(
        f"the payload of message {message.id} was shredded at {when}: the retention of "
        f"agreement {message.agreement_ref} ended; its metadata and audit trail remain"
    )


@dataclass(frozen=True)
class Replay:
    replayed: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (delivery id, its state)


def replay_deliveries(
    hub: Hub,
    principal: Principal,
    delivery_ids: Sequence[str],
    *,
    reason: str,
    all_dead: bool = False,
    destination: str | None = None,
) -> Replay:
    """Make dead or refused deliveries pending again with a fresh attempt budget.

    A refused delivery is checked against the agreements again at its next attempt: a replay
    cannot bypass a revoked agreement."""
    principal.require(Kind.OPERATOR)
    if bool(delivery_ids) == all_dead:
        raise InputError("give delivery ids, or --dead (optionally with --destination)")
    if not reason.strip():
        raise InputError("a replay needs a reason: it is recorded in the audit trail")
    now = hub.clock()
    skipped: list[tuple[str, str]] = []
    events: list[AuditEvent] = []
    with hub.engine.begin() as conn:
        ids = list(delivery_ids) or delivery_rows.dead_ids(conn, destination)
        for delivery_id in ids:
            row = delivery_rows.get(conn, delivery_id) if made_by_hub(delivery_id) else None
            message = message_rows.get_message(conn, row.message_id) if row else None
            if row is None or message is None or not principal.covers(message.district):
                if all_dead:
                    continue  # out of scope: not listed, so not replayed either
                raise NotFound(f"no delivery {delivery_id!r}")
            if not delivery_rows.make_due_again(conn, delivery_id, now, reason):
                skipped.append((delivery_id, row.state))
                continue
            events.append(
                principal.did(
                    AuditAction.REPLAYED,
                    district=message.district,
                    message_id=row.message_id,
                    destination=row.destination,
                    reason=reason,
                )
            )
        hub.guards.record(conn, events)
    return Replay(len(events), skipped)

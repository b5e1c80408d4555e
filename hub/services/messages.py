"""A person viewing a payload: decrypted in memory, audited as ``viewed`` in the same
transaction, with the viewer's stated reason. A shredded key answers "shredded", not garbage."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub.errors import NotFound
from hub.guards import AuditAction, AuditEvent, Outcome, per_subject
from hub.keys import crypto
from hub.storage import messages as message_rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub


def view_payload(hub: Hub, message_id: str, *, actor: str, reason: str) -> bytes:
    with hub.engine.begin() as conn:
        message = message_rows.get_message(conn, message_id)
        ciphertext = message_rows.get_ciphertext(conn, message_id)
        if message is None or ciphertext is None:
            raise NotFound(f"no message {message_id!r}")
        key = hub.guards.key(conn, message.district, message.key_version)
        aad = crypto.payload_aad(message.id, message.district, message.message_type, key.version)
        document = crypto.unseal(key.key, ciphertext, aad)
        hub.guards.record(
            conn,
            per_subject(
                AuditEvent(
                    actor=actor,
                    action=AuditAction.VIEWED,
                    purpose=message.purpose,
                    district=message.district,
                    agreement=message.agreement_ref,
                    message_id=message.id,
                    outcome=Outcome.OK,
                    reason=reason,
                ),
                message_rows.subject_refs(conn, message.id),
            ),
        )
    return document

"""Message rows: insert with their deliveries and subjects, idempotency lookups, listings.

The values (``StoredMessage``, ``NewMessage``) are the pipeline's own (``hub.ingest.records``);
this module fills them and re-exports them for the services, the API and the CLI.

All functions take a ``Connection`` inside the caller's transaction and never commit: the
pipeline writes a message, its deliveries and its audit entries in one transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select

from hub.envelope import DeliveryState
from hub.ingest.records import NewMessage, StoredMessage
from hub.storage.tables import business_keys, deliveries, message_subjects, messages

__all__ = [
    "MessageSummary",
    "NewMessage",
    "StoredMessage",
    "count_by_state",
    "find_by_key",
    "get_ciphertext",
    "get_message",
    "insert_messages",
    "list_messages",
    "subject_refs",
    "subject_refs_for",
    "summaries",
]


def insert_messages(conn: Connection, batch: Sequence[NewMessage]) -> None:
    """Insert messages with their subjects, business keys and deliveries: one statement per
    table for the whole batch (none for a table the batch has no rows for)."""
    if not batch:
        return
    conn.execute(
        insert(messages),
        [
            {
                "id": m.id,
                "sender": m.sender,
                "message_type": m.message_type,
                "version": m.version,
                "district": m.district,
                "purpose": m.purpose,
                "idempotency_key": m.idempotency_key,
                "content_digest": m.content_digest,
                "categories": ",".join(m.categories),
                "agreement_ref": m.agreement_ref,
                "key_version": m.key_version,
                "ciphertext": new.ciphertext,
                "size": m.size,
                "received_at": m.received_at,
            }
            for new in batch
            for m in (new.message,)
        ],
    )
    subjects = [
        {"message_id": new.message.id, "subject_ref": ref}
        for new in batch
        for ref in dict.fromkeys(new.subject_refs)
    ]
    if subjects:
        conn.execute(insert(message_subjects), subjects)
    keys = [
        {"message_id": new.message.id, "name": name, "value": value}
        for new in batch
        for name, value in dict.fromkeys(new.business_keys)
    ]
    if keys:
        conn.execute(insert(business_keys), keys)
    conn.execute(
        insert(deliveries),
        [
            {
                "id": delivery_id,
                "message_id": new.message.id,
                "destination": destination,
                "district": new.message.district,
                "state": (DeliveryState.HELD if new.held else DeliveryState.PENDING).value,
                "attempts": 0,
                "claim": 0,
                "next_attempt_at": new.message.received_at,
                "created_at": new.message.received_at,
                "updated_at": new.message.received_at,
            }
            for new in batch
            for delivery_id, destination in new.delivery_ids
        ],
    )


def _stored(row: Row[Any]) -> StoredMessage:
    r = row._mapping
    return StoredMessage(
        id=r["id"],
        sender=r["sender"],
        message_type=r["message_type"],
        version=r["version"],
        district=r["district"],
        purpose=r["purpose"],
        idempotency_key=r["idempotency_key"],
        content_digest=r["content_digest"],
        categories=tuple(c for c in r["categories"].split(",") if c),
        agreement_ref=r["agreement_ref"],
        key_version=r["key_version"],
        size=r["size"],
        received_at=r["received_at"],
    )


_META_COLUMNS = [c for c in messages.c if c.name != "ciphertext"]


def find_by_key(conn: Connection, sender: str, key: str) -> StoredMessage | None:
    row = conn.execute(
        select(*_META_COLUMNS).where(messages.c.sender == sender, messages.c.idempotency_key == key)
    ).first()
    return _stored(row) if row else None


def get_message(conn: Connection, message_id: str) -> StoredMessage | None:
    row = conn.execute(select(*_META_COLUMNS).where(messages.c.id == message_id)).first()
    return _stored(row) if row else None


def get_ciphertext(conn: Connection, message_id: str) -> bytes | None:
    value = conn.execute(
        select(messages.c.ciphertext).where(messages.c.id == message_id)
    ).scalar_one_or_none()
    return bytes(value) if value is not None else None


def subject_refs(conn: Connection, message_id: str) -> list[str]:
    return list(
        conn.execute(
            select(message_subjects.c.subject_ref).where(
                message_subjects.c.message_id == message_id
            )
        ).scalars()
    )


def subject_refs_for(conn: Connection, message_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if not message_ids:
        return out
    for message_id, ref in conn.execute(
        select(message_subjects.c.message_id, message_subjects.c.subject_ref).where(
            message_subjects.c.message_id.in_(list(set(message_ids)))
        )
    ):
        out.setdefault(message_id, []).append(ref)
    return out


@dataclass(frozen=True)
class MessageSummary:
    message: StoredMessage
    states: dict[str, int]  # delivery state -> count

    @property
    def state(self) -> str:
        """One word for the message: the least advanced state of its deliveries."""
        for state in (
            "in_flight",
            "held",
            "pending",
            "retrying",
            "awaiting_receipt",
            "dead",
            "refused",
            "rejected",
            "delivered",
        ):
            if self.states.get(state):
                return state
        return "pending"


def list_messages(
    conn: Connection,
    *,
    state: str | None = None,
    destination: str | None = None,
    districts: Collection[str] | None = None,
    limit: int = 50,
) -> list[MessageSummary]:
    """The newest messages, of ``districts`` only when given (in the query, before the limit:
    a scoped list is never cut short by messages its reader may not see)."""
    ids_query = select(messages.c.id).order_by(messages.c.received_at.desc()).limit(limit)
    if districts is not None:
        ids_query = ids_query.where(messages.c.district.in_(sorted(districts)))
    if state or destination:
        sub = select(deliveries.c.message_id)
        if state:
            sub = sub.where(deliveries.c.state == state)
        if destination:
            sub = sub.where(deliveries.c.destination == destination)
        ids_query = ids_query.where(messages.c.id.in_(sub))
    return summaries(conn, list(conn.execute(ids_query).scalars()))


def summaries(conn: Connection, ids: Sequence[str]) -> list[MessageSummary]:
    """The messages ``ids`` (in that order) with their deliveries counted per state."""
    if not ids:
        return []
    rows = conn.execute(select(*_META_COLUMNS).where(messages.c.id.in_(ids))).all()
    counts: dict[str, dict[str, int]] = {i: {} for i in ids}
    for message_id, st, n in conn.execute(
        select(deliveries.c.message_id, deliveries.c.state, func.count())
        .where(deliveries.c.message_id.in_(ids))
        .group_by(deliveries.c.message_id, deliveries.c.state)
    ):
        counts[message_id][st] = n
    by_id = {r.id: _stored(r) for r in rows}
    return [MessageSummary(by_id[i], counts[i]) for i in ids if i in by_id]


def count_by_state(conn: Connection, destinations: Sequence[str] = ()) -> dict[str, dict[str, int]]:
    """Deliveries per destination and state (the demo's and ``/metrics``' summary)."""
    query = select(deliveries.c.destination, deliveries.c.state, func.count()).group_by(
        deliveries.c.destination, deliveries.c.state
    )
    if destinations:
        query = query.where(deliveries.c.destination.in_(destinations))
    out: dict[str, dict[str, int]] = {}
    for dest, st, n in conn.execute(query):
        out.setdefault(dest, {})[st] = n
    return out

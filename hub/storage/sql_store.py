"""The SQL store behind the message path's ports (``hub.ports``), on SQLAlchemy Core.

Thin on purpose: each verb is one of the statement-level functions in ``hub.storage.messages``
and ``hub.storage.deliveries``, so the statements (and the round trips per batch) are the same
whoever calls them. What is the store's business stays here: which engine options make a reader
(``hub.storage.engine``: no write lock on SQLite), whether claims may ``SKIP LOCKED``
(PostgreSQL), and turning a unique-key violation into ``hub.errors.Conflict``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from hub.errors import Conflict
from hub.ingest.records import NewMessage, StoredMessage
from hub.outbox.records import ClaimedDelivery, OutcomeRow, WaitingDelivery
from hub.storage import deliveries as delivery_rows
from hub.storage import messages as message_rows
from hub.storage import receipt_waits
from hub.storage.engine import reader


class SqlUnitOfWork:
    """``hub.ports.UnitOfWork`` on an engine: the handle is a ``Connection``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._reader = reader(engine)

    def write(self) -> AbstractContextManager[Connection]:
        return self._engine.begin()

    def read(self) -> AbstractContextManager[Connection]:
        return self._reader.connect()

    def savepoint(self, tx: Connection) -> AbstractContextManager[object]:
        return tx.begin_nested()


class SqlMessages:
    """``hub.ports.MessageWrites`` and ``IdempotencyLookup`` on the ``messages`` tables."""

    def insert(self, tx: Connection, batch: Sequence[NewMessage]) -> None:
        try:
            message_rows.insert_messages(tx, batch)
        except IntegrityError as exc:
            raise Conflict(
                "a message id of this batch was already used by its sender",
                reason="message_key_taken",
            ) from exc

    def find(self, tx: Connection, sender: str, key: str) -> StoredMessage | None:
        return message_rows.find_by_key(tx, sender, key)

    def deliveries(self, tx: Connection, message_id: str) -> list[tuple[str, str]]:
        return [(r.id, r.destination) for r in delivery_rows.for_message(tx, message_id)]


class SqlOutbox:
    """``hub.ports.OutboxClaims``, ``DeliveryAttempts`` and ``ReceiptWaits`` on the
    ``deliveries`` table.

    ``skip_locked``: claim with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL, several relays side by
    side); SQLite's write lock already serializes claims.
    """

    def __init__(self, *, skip_locked: bool) -> None:
        self._skip_locked = skip_locked

    def claim(
        self, tx: Connection, now: datetime, lease: timedelta, limit: int
    ) -> list[tuple[str, int, str]]:
        return delivery_rows.claim_due(tx, now, lease, limit, skip_locked=self._skip_locked)

    def sweep(self, tx: Connection, now: datetime) -> int:
        delivery_rows.pull_back_future(tx, now)  # a clock stepped back: see there
        return delivery_rows.expire_leases(tx, now)

    def load(self, tx: Connection, claims: Sequence[tuple[str, int]]) -> list[ClaimedDelivery]:
        return delivery_rows.load_claimed(tx, claims)

    def record(self, tx: Connection, now: datetime, outcomes: Sequence[OutcomeRow]) -> set[str]:
        return delivery_rows.record_outcomes(tx, now, outcomes)

    def claim_waiting(
        self, tx: Connection, now: datetime, lease: timedelta, limit: int
    ) -> list[WaitingDelivery]:
        return receipt_waits.claim_waiting(tx, now, lease, limit, skip_locked=self._skip_locked)

    def record_receipts(
        self, tx: Connection, now: datetime, outcomes: Sequence[OutcomeRow]
    ) -> set[str]:
        return receipt_waits.record_receipts(tx, now, outcomes)

"""Guards "off", for the benchmark only: the product has no such switch, and must not.

``switch_off(hub)`` replaces three fields of the built hub's ``Guards`` object (the ingestor
and the delivery executor hold that same object, so both see the change):

- ``agreements``: a fixed in-memory list per district, read once from the store; no lock,
  no generation check, never a database read. The policy decision itself
  (``contracts.policy``, pure functions, microseconds) still runs: ``Guards`` calls it
  directly, and a refused message would still be refused.
- ``keys``: one fixed data key per district, no key table, no cache expiry. Payloads are
  still sealed with AES-256-GCM (encryption is not a guard here but the storage format).
- ``audit``: ``append`` writes nothing, so no head lock, no hash chain, no entry rows.

What stays on: XML parsing and schema validation, identity-number checks and their keyed
HMACs, routing, idempotency, the outbox, the relay. The relay keeps its own reference to the
real audit trail and still asks it whether a checkpoint is due (one cheap query per pass).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from sqlalchemy import Connection

from audit.checkpoint import Checkpoint
from audit.entry import AuditEntry, AuditEvent
from audit.signing import load_signer
from audit.trail import AuditTrail
from contracts.cache import AgreementCache
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.keys.store import DataKey, KeyStore, load_master_key

ConnectionSource = Connection | Callable[[], AbstractContextManager[Connection]]


class _NoStore:
    def generation(self, conn: Connection) -> int:
        return 0

    def current_for(self, conn: Connection, district: str) -> list[Agreement]:
        return []


class FixedAgreements(AgreementCache):
    def __init__(self, by_district: dict[str, tuple[Agreement, ...]]) -> None:
        super().__init__(_NoStore())
        self._fixed = by_district

    def agreements_for(self, source: ConnectionSource, district: str) -> tuple[Agreement, ...]:
        return self._fixed.get(district, ())


class FixedKeys(KeyStore):
    def __init__(self, hub: Hub) -> None:
        super().__init__(load_master_key(hub.settings.master_key_file, None))
        self._fixed: dict[str, DataKey] = {}

    def _key(self, district: str) -> DataKey:
        key = self._fixed.get(district)
        if key is None:
            key = self._fixed.setdefault(district, DataKey(district, 1, os.urandom(32)))
        return key

    def ensure(self, conn: Connection, district: str) -> tuple[DataKey, bool]:
        return self._key(district), False

    def get(self, conn: Connection, district: str, version: int) -> DataKey:
        return self._key(district)


class SilentAudit(AuditTrail):
    def append(self, conn: Connection, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        return []

    def checkpoint_due(self, conn: Connection) -> bool:
        return False

    def checkpoint(self, conn: Connection) -> Checkpoint | None:
        return None


def switch_off(hub: Hub, districts: Sequence[str]) -> None:
    """Replace the hub's agreement cache, key store and audit trail with the no-op ones.
    Call after the hub's agreements are stored, before any message is ingested."""
    guards = hub.guards
    with hub.reader.connect() as conn:
        fixed = {d: guards.agreements.agreements_for(conn, d) for d in districts}
    guards.agreements = FixedAgreements(fixed)
    guards.keys = FixedKeys(hub)
    guards.audit = SilentAudit(
        load_signer(hub.settings.audit_private_key_file), hub.settings.checkpoint_dir
    )

"""Guards "off", for the benchmark only: the product has no such switch, and must not.

``switch_off(hub)`` puts pass-through objects into the built hub's ``message_guards`` (the
``hub.ports.MessageGuards`` that the ingestor and the delivery executor share, so both see the
change). Each implements one guard port of ``hub.ports``; none subclasses a concrete class:

- ``AgreementChecks(FixedAgreements(...))`` (``AgreementDecisions``): the product's agreement
  checks over a fixed in-memory list per district, read once from the store; no lock, no
  generation check, never a database read. The policy decision itself (``contracts.policy``
  through ``hub.guards.AgreementChecks``, pure functions, microseconds) still runs, and a
  refused message would still be refused.
- ``FixedKeys`` (``DataKeys``): one fixed data key per district, no key table, no cache expiry.
  Payloads are still sealed with AES-256-GCM (encryption is not a guard here but the storage
  format).
- ``SilentAudit`` (``AuditLog``): ``record`` writes nothing, so no head lock, no hash chain, no
  entry rows.

What stays on: XML parsing and schema validation, identity-number checks and their keyed
HMACs, routing, idempotency, the outbox, the relay. The relay keeps the real audit trail for
checkpoints and still asks it whether one is due (one cheap query per pass). The services
(registering systems, agreements) keep ``hub.guards``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from audit.entry import AuditEvent
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.guards import AgreementChecks
from hub.keys.crypto import KEY_BYTES
from hub.keys.versions import DataKey


class FixedAgreements:
    """The agreements of each district as a fixed list: no store, no lock, no generation check.
    ``hub.guards.AgreementChecks`` over it is the pass-through ``AgreementDecisions``."""

    def __init__(self, by_district: dict[str, tuple[Agreement, ...]]) -> None:
        self._fixed = by_district

    def agreements_for(self, source: object, district: str) -> tuple[Agreement, ...]:
        return self._fixed.get(district, ())


class FixedKeys:
    """``DataKeys`` with one random key per district, made on first use, never stored."""

    def __init__(self) -> None:
        self._fixed: dict[str, DataKey] = {}

    def current_key(self, tx: object, district: str, actor: str) -> DataKey:
        key = self._fixed.get(district)
        if key is None:
            key = self._fixed.setdefault(district, DataKey(district, 1, os.urandom(KEY_BYTES)))
        return key

    def key(self, tx: object, district: str, version: int) -> DataKey:
        return self.current_key(tx, district, "")


class SilentAudit:
    """``AuditLog`` that records nothing."""

    def record(self, tx: object, events: Sequence[AuditEvent]) -> None:
        return None


def switch_off(hub: Hub, districts: Sequence[str]) -> None:
    """Replace the guards the hub's message path consults with the pass-through ones.
    Call after the hub's agreements are stored, before any message is ingested."""
    with hub.reader.connect() as conn:
        fixed = {d: hub.guards.agreements.agreements_for(conn, d) for d in districts}
    guards = hub.message_guards
    guards.agreements = AgreementChecks(FixedAgreements(fixed))
    guards.keys = FixedKeys()
    guards.audit = SilentAudit()

"""The message types' own checks at ingest (``MessageType.admission``), by the name each type
declares, after the agreement allowed the sender and before anything is written.

A type names its checks; ``hub.bootstrap`` hands the implementations in (``hub.ports.Admission``),
so the pipeline stays on ports while time reports' checks read orders from the case system and
stored visits from the database. Every declared name must have one: a type whose checks are
missing would pass unchecked, so the hub refuses to start instead.

**A repeat is not admitted again.** A sender's repeat (same sender and message id as a stored
message) skips the checks: it was checked when it was stored, and checked again it would meet
itself (a visit overlapping the same visit). The write answers it as every repeat is: the
original's id for the same content, ``409`` for different content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypeVar

from hub.errors import ConfigError
from hub.ports import Admission, IdempotencyLookup, UnitOfWork
from schemas.envelope import ParsedEnvelope
from schemas.registry import Registry

Tx = TypeVar("Tx")


class Admissions(Generic[Tx]):
    def __init__(
        self,
        checks: Mapping[str, Admission],
        registry: Registry,
        store: UnitOfWork[Tx],
        repeats: IdempotencyLookup[Tx],
    ) -> None:
        missing = sorted(
            f"{mt.label} ({mt.admission})"
            for mt in registry.types()
            if mt.admission is not None and mt.admission not in checks
        )
        if missing:
            raise ConfigError(
                f"no admission checks for {', '.join(missing)}", reason="admission_missing"
            )
        self._checks = dict(checks)
        self._store = store
        self._repeats = repeats

    def admit(self, sender: str, envelope: ParsedEnvelope) -> None:
        name = envelope.message_type_info.admission
        if name is None:
            return
        if envelope.message_id is not None:
            with self._store.read() as tx:
                if self._repeats.find(tx, sender, envelope.message_id) is not None:
                    return  # a repeat: answered by the write
        self._checks[name].admit(sender, envelope)

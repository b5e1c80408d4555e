"""In-memory adapter: a destination that lives inside the hub's own process.

System: none; it stands in for any destination in unit tests, the demo and benchmarks (kombu's
``memory`` transport). Protocol and authentication: none, a method call.
Retry and idempotency: de-duplicates on ``delivery_id`` like the real MedCom and SDK services do,
so a repeated delivery is stored once and answered with ``Receipt(duplicate=True)`` and the
first receipt's reference. ``fail_with`` ("transient" or "permanent") makes every delivery fail
that way until it is set back to None; nothing is stored while it fails.
Data categories: whatever the message carries; documents are kept in plain memory only as long
as the adapter object lives and are never written anywhere.
Thread-safe: the worker pool delivers from several threads at once.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from adapters import StrictOptions
from hub.envelope import OutboundDelivery, Receipt
from hub.errors import PermanentDeliveryError, TransientDeliveryError

FailWith = Literal["transient", "permanent"]
_FAIL_WITH_VALUES: tuple[str, ...] = get_args(FailWith)


def _as_fail_with(value: str | None) -> FailWith | None:
    if value is None:
        return None
    if value == "transient":
        return "transient"
    if value == "permanent":
        return "permanent"
    raise ValueError(f"must be one of {', '.join(_FAIL_WITH_VALUES)} or None")


class MemoryAdapter:
    """Keeps delivered documents in memory keyed by delivery id. Options: ``fail_with``."""

    kind = "memory"

    def __init__(self, name: str, options: Mapping[str, object]) -> None:
        opts = StrictOptions(self.kind, name, options, allowed=("fail_with",))
        try:
            fail_with = _as_fail_with(opts.optional("fail_with", str))
        except ValueError as exc:
            raise opts.fail("fail_with", str(exc)) from exc
        self.name = name
        self._fail_with = fail_with
        self._lock = threading.Lock()
        self._delivered: dict[str, OutboundDelivery] = {}
        self._references: dict[str, str] = {}
        self._attempts = 0
        self._open = False

    def __repr__(self) -> str:
        return f"MemoryAdapter(name={self.name!r}, fail_with={self._fail_with!r})"

    @property
    def fail_with(self) -> FailWith | None:
        return self._fail_with

    @fail_with.setter
    def fail_with(self, value: FailWith | None) -> None:
        checked = _as_fail_with(value)
        with self._lock:
            self._fail_with = checked

    @property
    def delivered(self) -> Mapping[str, OutboundDelivery]:
        """A read-only snapshot of what was stored, by delivery id (first delivery wins)."""
        with self._lock:
            return MappingProxyType(dict(self._delivered))

    @property
    def attempts(self) -> int:
        """Every call of ``deliver`` while open, whatever its outcome."""
        with self._lock:
            return self._attempts

    def open(self) -> None:
        with self._lock:
            self._open = True

    def close(self) -> None:
        with self._lock:
            self._open = False

    def deliver(self, delivery: OutboundDelivery) -> Receipt:
        with self._lock:
            if not self._open:
                raise TransientDeliveryError(
                    f"adapter {self.name!r} is not open", reason="adapter_closed"
                )
            self._attempts += 1
            if self._fail_with == "transient":
                raise TransientDeliveryError(
                    f"{self.name}: destination unavailable (simulated)", status="simulated"
                )
            if self._fail_with == "permanent":
                raise PermanentDeliveryError(
                    f"{self.name}: destination rejected the document (simulated)",
                    status="simulated",
                )
            key = delivery.delivery_id
            if key in self._delivered:
                return Receipt(reference=self._references[key], duplicate=True)
            reference = f"{self.name}-{len(self._delivered) + 1}"
            self._delivered[key] = delivery
            self._references[key] = reference
            return Receipt(reference=reference, duplicate=False)

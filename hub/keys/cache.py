"""Unwrapped data keys in memory, for at most ``max_age`` seconds each.

Unwrapping per message is wasteful (and with a KMS a network call), so ``KeyStore`` keeps what
it unwrapped. Two rules make that safe:

- **Bounded age.** An entry older than ``max_age`` is not served; the store re-reads its row,
  so another process's rotation or shred is seen within that time.
- **No phantom keys.** A key created in a transaction is not cached while that transaction is
  open (``created``/``remember``): were it rolled back, the cache would serve a key whose row
  never existed.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from sqlalchemy import RootTransaction

from hub.keys import crypto
from hub.keys.versions import DataKey


@dataclass(frozen=True)
class _Cached:
    key: DataKey
    wrapped: bytes
    checked_at: float


def _still_open(ref: weakref.ref[RootTransaction]) -> bool:
    transaction = ref()
    return transaction is not None and transaction.is_active


class KeyCache:
    """Keys by (district, version) and each district's active version; thread-safe."""

    def __init__(self, max_age: float) -> None:
        self._max_age = max_age
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, int], _Cached] = {}
        self._active: dict[str, tuple[int, float]] = {}
        # Keys this process created, by the transaction that created them (not yet cacheable).
        self._fresh: dict[tuple[str, int], weakref.ref[RootTransaction]] = {}

    def key(self, district: str, version: int) -> DataKey | None:
        with self._lock:
            hit = self._keys.get((district, version))
        if hit is None or time.monotonic() - hit.checked_at >= self._max_age:
            return None
        return hit.key

    def active(self, district: str) -> DataKey | None:
        with self._lock:
            active = self._active.get(district)
        if active is None or time.monotonic() - active[1] >= self._max_age:
            return None
        return self.key(district, active[0])

    def unwrapped(self, district: str, version: int, wrapped: bytes) -> DataKey | None:
        """The cached key if it came from the same wrapped bytes (saves an unwrap when only the
        entry's age ran out)."""
        with self._lock:
            hit = self._keys.get((district, version))
        return hit.key if hit is not None and hit.wrapped == wrapped else None

    def created(self, district: str, version: int, transaction: RootTransaction | None) -> None:
        """``version`` was just inserted as the district's active key in ``transaction``."""
        with self._lock:
            self._active.pop(district, None)
            self._fresh = {i: r for i, r in self._fresh.items() if _still_open(r)}
            if transaction is not None:
                self._fresh[(district, version)] = weakref.ref(transaction)

    def remember(
        self,
        key: DataKey,
        wrapped: bytes,
        *,
        active: bool,
        transaction: RootTransaction | None,
    ) -> None:
        """Cache ``key`` as read in ``transaction``, unless that transaction created it."""
        ident = (key.district, key.version)
        now = time.monotonic()
        with self._lock:
            creator = self._fresh.get(ident)
            if creator is not None:
                if _still_open(creator) and creator() is transaction:
                    return  # uncommitted: a rollback would leave a phantom key cached
                del self._fresh[ident]
            self._keys[ident] = _Cached(key, bytes(wrapped), now)
            if active:
                self._active[key.district] = (key.version, now)

    def forget(self, district: str, version: int) -> None:
        with self._lock:
            hit = self._keys.pop((district, version), None)
            if self._active.get(district, (0, 0.0))[0] == version:
                del self._active[district]
        if hit is not None:
            crypto.forget_key(hit.key.key)

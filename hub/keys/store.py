"""Per-district data keys (envelope encryption, crypto-shredding): the rules.

Why: payloads are sealed under a per-district, versioned data key (``hub.keys.crypto``). Data
keys live in ``district_keys`` only wrapped by the master key, so a copy of the database alone
decrypts nothing. Destroying one wrapped key version (shredding) makes every payload sealed
under it unreadable for good: that is how retention ends, provably.

- ``MasterKey`` is the port: ``LocalMasterKey`` (a 32-byte secret in a 0600 file or an
  environment variable) today, a KMS or Vault transit later. The raw secret is only ever HKDF
  input: wrapping uses one derived key, ``derive(purpose)`` gives others (the HMAC secret).
  They live in ``hub.keys.master``; this module re-exports them.
- ``KeyStore`` works on a ``Connection`` the caller passes, inside the caller's transaction; it
  never commits. SQLite and PostgreSQL (READ COMMITTED, the default). Its statements are in
  ``hub.keys.rows``, its cache in ``hub.keys.cache``, re-sealing in ``hub.keys.rewrap``.

Concurrency: two processes using a district for the first time both try to insert version 1;
the primary key (district, version) lets one win (``INSERT … ON CONFLICT DO NOTHING``, which
waits for the other transaction) and the other reads the winner's row. ``rotate`` inserts the
next version, then retires older active rows; a rotation that loses the number retries with the
next one, so concurrent rotations each get their own version and one active row remains.

Cache: other processes learn of a rotation or a shred when their entry reaches
``max_cache_age`` seconds (default 5): an older entry is re-read from ``district_keys`` before
use, so ``get`` of a shredded version fails everywhere within that time. For the same reason
``shred`` refuses a version retired less than ``shred_grace`` ago (default twice the cache age):
by then no process still seals new payloads under it.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from hub.errors import ConfigError, GuardUnavailable, InputError
from hub.keys import crypto
from hub.keys import rows as key_rows
from hub.keys.cache import KeyCache
from hub.keys.master import (
    MASTER_KEY_BYTES,
    LocalMasterKey,
    MasterKey,
    init_master_key,
    key_context,
    load_master_key,
)
from hub.keys.rewrap import rewrap
from hub.keys.versions import DataKey, KeyInfo, KeyState

__all__ = [
    "MASTER_KEY_BYTES",
    "DataKey",
    "KeyInfo",
    "KeyState",
    "KeyStore",
    "LocalMasterKey",
    "MasterKey",
    "init_master_key",
    "key_context",
    "load_master_key",
]

_K = key_rows.K
_ROTATE_TRIES = 5


class KeyStore:
    """Per-district data keys in ``district_keys``; see the module docstring for the rules."""

    def __init__(
        self,
        master: MasterKey,
        *,
        max_cache_age: float = 5.0,
        shred_grace: float | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_cache_age < 0 or (shred_grace is not None and shred_grace < 0):
            raise ConfigError("key cache age and shred grace must not be negative")
        self._master = master
        self._max_age = max_cache_age
        self._grace = timedelta(seconds=2 * max_cache_age if shred_grace is None else shred_grace)
        self._clock = clock
        self._cache = KeyCache(max_cache_age)

    def __repr__(self) -> str:
        return f"KeyStore(master={self._master!r}, max_cache_age={self._max_age})"

    # -- reading ----------------------------------------------------------------------------
    def current(self, conn: Connection, district: str) -> DataKey:
        """The active key of ``district``, created as version 1 on first use."""
        return self.ensure(conn, district)[0]

    def ensure(self, conn: Connection, district: str) -> tuple[DataKey, bool]:
        """The active key and whether this call created it (the caller audits ``key_created``)."""
        cached = self._cache.active(district)
        if cached is not None:
            return cached, False
        with key_rows.reached(f"reading the key of district {district}"):
            highest, row = key_rows.select_active(conn, district)
            if row is None:
                made = self._create(conn, district, highest + 1)
                if made is not None:
                    return made, True
                _, row = key_rows.select_active(conn, district)  # another process won the insert
            if row is None:
                raise GuardUnavailable(
                    f"the key of district {district} is being created by another transaction "
                    "that this one cannot see; retry",
                    reason="key_store_conflict",
                )
            return self._remember(conn, district, row.version, row.wrapped_key, active=True), False

    def get(self, conn: Connection, district: str, version: int) -> DataKey:
        """Key ``version`` of ``district``: ``KeyShredded`` if destroyed, ``NotFound`` if never."""
        cached = self._cache.key(district, version)
        if cached is not None:
            return cached
        with key_rows.reached(f"reading key version {version} of district {district}"):
            row = key_rows.version_row(
                conn, district, version, _K.wrapped_key, _K.state, _K.shredded_at
            )
            if row.state == KeyState.SHREDDED or row.wrapped_key is None:
                self._cache.forget(district, version)
                raise key_rows.shredded(district, version, row.shredded_at)
            return self._remember(
                conn, district, version, row.wrapped_key, active=row.state == KeyState.ACTIVE
            )

    def list(self, conn: Connection) -> builtins.list[KeyInfo]:
        """Every key version of every district, with the number of messages sealed under it."""
        with key_rows.reached("listing keys"):
            return key_rows.key_infos(conn)

    # -- changing ---------------------------------------------------------------------------
    def rotate(self, conn: Connection, district: str) -> int:
        """Make a new active version; the old one becomes ``retired`` and still decrypts."""
        with key_rows.reached(f"rotating the key of district {district}"):
            for _ in range(_ROTATE_TRIES):
                highest = key_rows.highest_version(conn, district)
                made = self._create(conn, district, highest + 1)
                if made is not None:
                    return made.version
        raise GuardUnavailable(
            f"other transactions keep rotating the key of district {district}; retry",
            reason="key_store_conflict",
        )

    def shred(self, conn: Connection, district: str, version: int) -> None:
        """Destroy a retired version for good: its payloads can never be decrypted again.

        Refuses the active version (rotate first: a district always keeps one usable key) and a
        version retired less than ``shred_grace`` ago, while other processes may still seal
        under it from their cache. Shredding a shredded version raises ``KeyShredded``.
        """
        now = self._clock()
        with key_rows.reached(f"shredding key version {version} of district {district}"):
            row = key_rows.version_row(
                conn, district, version, _K.state, _K.retired_at, _K.shredded_at
            )
            if row.state == KeyState.SHREDDED:
                raise key_rows.shredded(district, version, row.shredded_at)
            if row.state == KeyState.ACTIVE:
                raise InputError(
                    f"key version {version} is the active key of district {district}; rotate "
                    "first, then shred the retired version",
                    reason="key_active",
                )
            retired_at = key_rows.utc(row.retired_at)
            if retired_at is not None and retired_at + self._grace > now:
                raise InputError(
                    f"key version {version} of district {district} was retired at "
                    f"{retired_at.isoformat()}; other processes may seal under it until "
                    f"{(retired_at + self._grace).isoformat()}, shred after that",
                    reason="key_recently_retired",
                )
            done = key_rows.mark_shredded(conn, district, version, now)
        if not done:
            raise GuardUnavailable(
                f"key version {version} of district {district} changed while shredding; retry",
                reason="key_store_conflict",
            )
        self._cache.forget(district, version)

    def rewrap(
        self,
        conn: Connection,
        district: str,
        *,
        batch: int = 500,
        progress: Callable[[int, int], None] | None = None,
        limit: int | None = None,
    ) -> int:
        """Re-seal the district's payloads from retired versions under the active version
        (``hub.keys.rewrap``): ``batch`` messages at a time; with ``limit`` it stops after that
        many so the caller can commit and call again until it returns 0."""
        return rewrap(self, conn, district, batch=batch, progress=progress, limit=limit)

    # -- internals --------------------------------------------------------------------------
    def _create(self, conn: Connection, district: str, version: int) -> DataKey | None:
        """Insert ``version`` as the active key and retire older active ones.

        ``None`` if another transaction holds that version number (it waited for that
        transaction to end, so a new statement now sees its row).
        """
        key = DataKey(district, version, os.urandom(crypto.KEY_BYTES))
        now = self._clock()
        values = {
            "district": district,
            "version": version,
            "wrapped_key": self._master.wrap(key.key, key_context(district, version)),
            "state": KeyState.ACTIVE.value,
            "created_at": now,
        }
        if not key_rows.insert_if_absent(conn, values):
            return None
        key_rows.retire_older(conn, district, version, now)
        self._cache.created(district, version, conn.get_transaction())
        return key

    def _remember(
        self, conn: Connection, district: str, version: int, wrapped: bytes, *, active: bool
    ) -> DataKey:
        key = self._cache.unwrapped(district, version, wrapped)
        if key is None:
            key = DataKey(
                district, version, self._master.unwrap(wrapped, key_context(district, version))
            )
        self._cache.remember(key, wrapped, active=active, transaction=conn.get_transaction())
        return key

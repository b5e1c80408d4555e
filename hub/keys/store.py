"""Master key and per-district data keys (envelope encryption, crypto-shredding).

Why: payloads are sealed under a per-district, versioned data key (``hub.keys.crypto``). Data keys
live in ``district_keys`` only wrapped by the master key, so a copy of the database alone
decrypts nothing. Destroying one wrapped key version (shredding) makes every payload sealed under
it unreadable for good: that is how retention ends, provably.

- ``MasterKey`` is the port: ``LocalMasterKey`` (a 32-byte secret in a 0600 file or an
  environment variable) today, a KMS or Vault transit later. The raw secret is only ever HKDF
  input: wrapping uses one derived key, ``derive(purpose)`` gives others (the HMAC secret).
  They live in ``hub.keys.master``; this module re-exports them.
- ``KeyStore`` works on a ``Connection`` the caller passes, inside the caller's transaction; it
  never commits. SQLite and PostgreSQL (READ COMMITTED, the default).

Concurrency: two processes using a district for the first time both try to insert version 1;
the primary key (district, version) lets one win (``INSERT … ON CONFLICT DO NOTHING``, which
waits for the other transaction) and the other reads the winner's row. ``rotate`` inserts the
next version, then retires older active rows; a rotation that loses the number retries with the
next one, so concurrent rotations each get their own version and one active row remains.

Cache: unwrapped keys are kept in memory (unwrapping per message is wasteful, and with a KMS it
is a network call). Rotate and shred drop entries in this process at once. Other processes
learn of a rotation or a shred when their entry reaches ``max_cache_age`` seconds (default 5):
an older entry is re-read from ``district_keys`` before use, so ``get`` of a shredded version
fails everywhere within that time. For the same reason ``shred`` refuses a version retired less
than ``shred_grace`` ago (default twice the cache age): by then no process still seals new
payloads under it. A key created in a transaction is not cached until it is read from another
transaction, so a rolled-back creation never leaves a phantom key behind.
"""

from __future__ import annotations

import builtins
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RootTransaction, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.errors import ConfigError, GuardUnavailable, InputError, KeyShredded, NotFound
from hub.keys import crypto
from hub.keys.master import (
    MASTER_KEY_BYTES,
    LocalMasterKey,
    MasterKey,
    init_master_key,
    key_context,
    load_master_key,
)
from hub.storage.tables import district_keys, messages

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

_K = district_keys.c
_ROTATE_TRIES = 5


class KeyState(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    SHREDDED = "shredded"


@dataclass(frozen=True)
class DataKey:
    """One unwrapped data key version. ``key`` never appears in ``repr``."""

    district: str
    version: int
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class KeyInfo:
    district: str
    version: int
    state: KeyState
    created_at: datetime
    retired_at: datetime | None
    shredded_at: datetime | None
    message_count: int | None


@dataclass(frozen=True)
class _Cached:
    key: DataKey
    wrapped: bytes
    checked_at: float


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes even for DateTime(timezone=True); we store UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


@contextmanager
def _key_store_reached(action: str) -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise GuardUnavailable(
            f"key store cannot be reached while {action}: {type(exc.orig).__name__}",
            reason="key_store_unavailable",
        ) from exc


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
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, int], _Cached] = {}
        self._active: dict[str, tuple[int, float]] = {}
        # Keys this process created, by the transaction that created them (not yet cacheable).
        self._fresh: dict[tuple[str, int], weakref.ref[RootTransaction]] = {}

    def __repr__(self) -> str:
        return f"KeyStore(master={self._master!r}, max_cache_age={self._max_age})"

    # -- reading ----------------------------------------------------------------------------
    def current(self, conn: Connection, district: str) -> DataKey:
        """The active key of ``district``, created as version 1 on first use."""
        return self.ensure(conn, district)[0]

    def ensure(self, conn: Connection, district: str) -> tuple[DataKey, bool]:
        """The active key and whether this call created it (the caller audits ``key_created``)."""
        cached = self._cached_active(district)
        if cached is not None:
            return cached, False
        with _key_store_reached(f"reading the key of district {district}"):
            highest, row = self._select_active(conn, district)
            if row is None:
                made = self._create(conn, district, highest + 1)
                if made is not None:
                    return made, True
                _, row = self._select_active(conn, district)  # another process won the insert
            if row is None:
                raise GuardUnavailable(
                    f"the key of district {district} is being created by another transaction "
                    "that this one cannot see; retry",
                    reason="key_store_conflict",
                )
            return self._remember(conn, district, row.version, row.wrapped_key, active=True), False

    def get(self, conn: Connection, district: str, version: int) -> DataKey:
        """Key ``version`` of ``district``: ``KeyShredded`` if destroyed, ``NotFound`` if never."""
        cached = self._cached_key(district, version)
        if cached is not None:
            return cached
        with _key_store_reached(f"reading key version {version} of district {district}"):
            row = _version_row(conn, district, version, _K.wrapped_key, _K.state, _K.shredded_at)
            if row.state == KeyState.SHREDDED or row.wrapped_key is None:
                self._forget(district, version)
                raise _shredded(district, version, row.shredded_at)
            return self._remember(
                conn, district, version, row.wrapped_key, active=row.state == KeyState.ACTIVE
            )

    def list(self, conn: Connection) -> builtins.list[KeyInfo]:
        """Every key version of every district, with the number of messages sealed under it."""
        counts = (
            select(messages.c.district, messages.c.key_version, func.count().label("n"))
            .group_by(messages.c.district, messages.c.key_version)
            .subquery()
        )
        query = (
            select(
                _K.district,
                _K.version,
                _K.state,
                _K.created_at,
                _K.retired_at,
                _K.shredded_at,
                counts.c.n,
            )
            .select_from(
                district_keys.outerjoin(
                    counts,
                    (counts.c.district == _K.district) & (counts.c.key_version == _K.version),
                )
            )
            .order_by(_K.district, _K.version)
        )
        with _key_store_reached("listing keys"):
            rows = conn.execute(query).all()
        return [
            KeyInfo(
                district=r.district,
                version=r.version,
                state=KeyState(r.state),
                created_at=_aware(r.created_at),
                retired_at=_utc(r.retired_at),
                shredded_at=_utc(r.shredded_at),
                message_count=r.n or 0,
            )
            for r in rows
        ]

    # -- changing ---------------------------------------------------------------------------
    def rotate(self, conn: Connection, district: str) -> int:
        """Make a new active version; the old one becomes ``retired`` and still decrypts."""
        with _key_store_reached(f"rotating the key of district {district}"):
            for _ in range(_ROTATE_TRIES):
                highest = conn.execute(
                    select(func.max(_K.version)).where(_K.district == district)
                ).scalar_one()
                made = self._create(conn, district, (highest or 0) + 1)
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
        with _key_store_reached(f"shredding key version {version} of district {district}"):
            row = _version_row(conn, district, version, _K.state, _K.retired_at, _K.shredded_at)
            if row.state == KeyState.SHREDDED:
                raise _shredded(district, version, row.shredded_at)
            if row.state == KeyState.ACTIVE:
                raise InputError(
                    f"key version {version} is the active key of district {district}; rotate "
                    "first, then shred the retired version",
                    reason="key_active",
                )
            retired_at = _utc(row.retired_at)
            if retired_at is not None and retired_at + self._grace > now:
                raise InputError(
                    f"key version {version} of district {district} was retired at "
                    f"{retired_at.isoformat()}; other processes may seal under it until "
                    f"{(retired_at + self._grace).isoformat()}, shred after that",
                    reason="key_recently_retired",
                )
            done = conn.execute(
                update(district_keys)
                .where(
                    _K.district == district,
                    _K.version == version,
                    _K.state == KeyState.RETIRED.value,
                )
                .values(wrapped_key=None, state=KeyState.SHREDDED.value, shredded_at=now)
            )
        if done.rowcount != 1:
            raise GuardUnavailable(
                f"key version {version} of district {district} changed while shredding; retry",
                reason="key_store_conflict",
            )
        self._forget(district, version)

    def rewrap(
        self,
        conn: Connection,
        district: str,
        *,
        batch: int = 500,
        progress: Callable[[int, int], None] | None = None,
        limit: int | None = None,
    ) -> int:
        """Re-seal the district's payloads from retired versions under the active version.

        Works ``batch`` messages at a time (plaintext only in memory); with ``limit`` it stops
        after that many so the caller can commit and call again until it returns 0. Payloads
        under shredded versions are left alone: they are unreadable by design. A payload that
        fails authentication raises ``CryptoError`` and the caller should roll back.
        """
        if batch < 1:
            raise InputError(f"batch must be at least 1, got {batch}")
        m = messages.c
        with _key_store_reached(f"re-wrapping payloads of district {district}"):
            old = (
                conn.execute(
                    select(_K.version).where(
                        _K.district == district,
                        _K.state == KeyState.RETIRED.value,
                    )
                )
                .scalars()
                .all()
            )
            if not old:
                return 0  # nothing was ever rotated: do not create a key as a side effect
            target = self.current(conn, district)
            scope = (m.district == district) & m.key_version.in_(old)
            total = conn.execute(
                select(func.count()).select_from(messages).where(scope)
            ).scalar_one()
            if limit is not None:
                total = min(total, limit)
            done, last_id = 0, ""
            while done < total:
                rows = conn.execute(
                    select(m.id, m.message_type, m.key_version, m.ciphertext)
                    .where(scope, m.id > last_id)
                    .order_by(m.id)
                    .limit(min(batch, total - done))
                ).all()
                if not rows:
                    break
                conn.execute(_REWRAP_UPDATE, self._resealed(conn, district, target, rows))
                done += len(rows)
                last_id = rows[-1].id
                if progress is not None:
                    progress(done, total)
        return done

    # -- internals --------------------------------------------------------------------------
    def _resealed(
        self, conn: Connection, district: str, target: DataKey, rows: Sequence[Any]
    ) -> builtins.list[dict[str, object]]:
        out: builtins.list[dict[str, object]] = []
        for row in rows:
            source = self.get(conn, district, row.key_version)
            plaintext = crypto.unseal(
                source.key,
                row.ciphertext,
                crypto.payload_aad(row.id, district, row.message_type, row.key_version),
            )
            aad = crypto.payload_aad(row.id, district, row.message_type, target.version)
            out.append(
                {
                    "b_id": row.id,
                    "b_old": row.key_version,
                    "key_version": target.version,
                    "ciphertext": crypto.seal(target.key, plaintext, aad),
                }
            )
        return out

    def _select_active(self, conn: Connection, district: str) -> tuple[int, Any]:
        """The highest version number and the active row, seen in one snapshot.

        One statement: were they read apart, a version committed in between by another process
        could make this one create a second active key.
        """
        rows = conn.execute(
            select(_K.version, _K.state, _K.wrapped_key)
            .where(_K.district == district)
            .order_by(_K.version.desc())
        ).all()
        active = next((r for r in rows if r.state == KeyState.ACTIVE), None)
        return (rows[0].version if rows else 0), active

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
        if not _insert_if_absent(conn, values):
            return None
        conn.execute(
            update(district_keys)
            .where(_K.district == district, _K.version < version)
            .where(_K.state == KeyState.ACTIVE.value)
            .values(state=KeyState.RETIRED.value, retired_at=now)
        )
        transaction = conn.get_transaction()
        with self._lock:
            self._active.pop(district, None)
            self._fresh = {i: r for i, r in self._fresh.items() if _still_open(r)}
            if transaction is not None:
                self._fresh[(district, version)] = weakref.ref(transaction)
        return key

    def _remember(
        self, conn: Connection, district: str, version: int, wrapped: bytes, *, active: bool
    ) -> DataKey:
        ident = (district, version)
        with self._lock:
            hit = self._keys.get(ident)
        if hit is not None and hit.wrapped == wrapped:
            key = hit.key
        else:
            key = DataKey(district, version, self._master.unwrap(wrapped, key_context(*ident)))
        now = time.monotonic()
        with self._lock:
            creator = self._fresh.get(ident)
            if creator is not None:
                if _still_open(creator) and creator() is conn.get_transaction():
                    return key  # uncommitted: a rollback would leave a phantom key cached
                del self._fresh[ident]
            self._keys[ident] = _Cached(key, bytes(wrapped), now)
            if active:
                self._active[district] = (version, now)
        return key

    def _cached_key(self, district: str, version: int) -> DataKey | None:
        with self._lock:
            hit = self._keys.get((district, version))
        if hit is None or time.monotonic() - hit.checked_at >= self._max_age:
            return None
        return hit.key

    def _cached_active(self, district: str) -> DataKey | None:
        with self._lock:
            active = self._active.get(district)
        if active is None or time.monotonic() - active[1] >= self._max_age:
            return None
        return self._cached_key(district, active[0])

    def _forget(self, district: str, version: int) -> None:
        with self._lock:
            hit = self._keys.pop((district, version), None)
            if self._active.get(district, (0, 0.0))[0] == version:
                del self._active[district]
        if hit is not None:
            crypto.forget_key(hit.key.key)


_REWRAP_UPDATE = (
    update(messages)
    .where(messages.c.id == bindparam("b_id"), messages.c.key_version == bindparam("b_old"))
    .values(key_version=bindparam("key_version"), ciphertext=bindparam("ciphertext"))
)


def _still_open(ref: weakref.ref[RootTransaction]) -> bool:
    transaction = ref()
    return transaction is not None and transaction.is_active


def _version_row(conn: Connection, district: str, version: int, *columns: Any) -> Any:
    """``columns`` of one key version's row; ``NotFound`` if the district never had it."""
    row = conn.execute(
        select(*columns).where(_K.district == district, _K.version == version)
    ).first()
    if row is None:
        raise NotFound(f"district {district} has no key version {version}")
    return row


def _shredded(district: str, version: int, shredded_at: datetime | None) -> KeyShredded:
    at = _utc(shredded_at)
    return KeyShredded(
        f"key version {version} of district {district} was shredded at "
        f"{at.isoformat() if at is not None else 'an unrecorded time'}",
        district=district,
        version=version,
    )


def _insert_if_absent(conn: Connection, values: dict[str, object]) -> bool:
    """Insert a ``district_keys`` row unless its (district, version) exists; True if inserted.

    ON CONFLICT DO NOTHING keeps the caller's transaction usable on PostgreSQL (a plain unique
    violation would abort it); RETURNING tells whether the row went in (SQLAlchemy 2.1 does not
    keep an INSERT's rowcount). Other dialects get a savepoint.
    """
    unique = [_K.district, _K.version]
    if conn.dialect.name in ("postgresql", "sqlite"):
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        stmt = insert(district_keys).values(values).on_conflict_do_nothing(index_elements=unique)
        return conn.execute(stmt.returning(_K.version)).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(district_keys.insert().values(values))
    except IntegrityError:
        return False
    return True

"""Registered systems and their bearer tokens.

A token is 32 random bytes (``osh_`` + URL-safe base64) shown once at registration and stored
only as its SHA-256. A slow password hash (bcrypt, argon2) protects low-entropy secrets; a
256-bit random token cannot be brute-forced, so a fast hash is enough and keeps every request
cheap. Lookups are cached for a few seconds so a request costs no extra database round trip;
deactivating a system therefore takes effect within ``_CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import AuthenticationError, ConfigError, GuardUnavailable, NotFound
from hub.storage.tables import systems

_CACHE_SECONDS = 5.0
TOKEN_PREFIX = "osh_"  # noqa: S105 - a prefix, not a secret


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class System:
    name: str
    description: str
    role: str
    active: bool
    created_at: datetime


ROLES = ("system", "admin")


def add_system(
    conn: Connection, name: str, description: str, now: datetime, role: str = "system"
) -> str:
    """Register a system; returns its token (the only time it is ever visible).

    ``role`` "system" sends messages and asks lookups; "admin" (a district administrator's
    tool) manages agreements through the API and can do nothing else."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name or len(name) > 100 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"system name {name!r} must be 1–100 letters, digits, '-', '_' or '.'")
    if conn.execute(select(systems.c.name).where(systems.c.name == name)).first():
        raise ConfigError(f"system {name!r} is already registered")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(systems).values(
            name=name,
            token_hash=hash_token(token),
            description=description,
            role=role,
            active=True,
            created_at=now,
        )
    )
    return token


def list_systems(conn: Connection) -> list[System]:
    return [
        System(r.name, r.description, r.role, r.active, r.created_at)
        for r in conn.execute(select(systems).order_by(systems.c.name))
    ]


def set_active(conn: Connection, name: str, active: bool) -> None:
    result = conn.execute(update(systems).where(systems.c.name == name).values(active=active))
    if result.rowcount != 1:
        raise NotFound(f"no system named {name!r}")


class Authenticator:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._cache: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()

    def system_for(self, authorization: str | None) -> str:
        """The sending system for an ``Authorization: Bearer …`` header value."""
        name, role = self._identify(authorization)
        if role != "system":
            raise AuthenticationError(f"{name!r} is an {role} token; it cannot send or ask")
        return name

    def cached_system(self, authorization: str | None) -> str | None:
        """The sending system if its token is in the cache, else None: no I/O, so the API can
        call it on its event loop and go to a worker thread only on a miss."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        cached = self._cache.get(hash_token(token.strip()))
        if scheme.lower() != "bearer" or not cached or cached[1] != "system":
            return None
        return cached[0] if time.monotonic() - cached[2] < _CACHE_SECONDS else None

    def admin_for(self, authorization: str | None) -> str:
        """The administrator for an ``Authorization: Bearer …`` header value."""
        name, role = self._identify(authorization)
        if role != "admin":
            raise AuthenticationError(f"{name!r} is not an administrator token")
        return name

    def _identify(self, authorization: str | None) -> tuple[str, str]:
        if not authorization:
            raise AuthenticationError("missing Authorization header (Bearer token)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization must be 'Bearer <token>'")
        digest = hash_token(token.strip())
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and now - cached[2] < _CACHE_SECONDS:
            return cached[0], cached[1]
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    select(systems.c.name, systems.c.role).where(
                        systems.c.token_hash == digest, systems.c.active.is_(True)
                    )
                ).first()
        except SQLAlchemyError as exc:
            raise GuardUnavailable(
                "the system registry cannot be reached; refusing", reason="storage_unavailable"
            ) from exc
        if row is None:
            raise AuthenticationError("unknown or deactivated token")
        with self._lock:
            self._cache[digest] = (row.name, row.role, now)
        return str(row.name), str(row.role)

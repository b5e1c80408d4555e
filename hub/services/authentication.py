"""Bearer tokens: who a request comes from, as a ``Principal``.

A token is 32 random bytes (``osh_`` + URL-safe base64) shown once and stored only as its
SHA-256. A slow password hash (bcrypt, argon2) protects low-entropy secrets; a 256-bit random
token cannot be brute-forced, so a fast hash is enough and keeps every request cheap.

Every token expires (``token_expiry_days``, or ``--expires-in``); after ``systems rotate-token``
the replaced token keeps working until its overlap ends. Expiry is checked at every request,
also on a cache hit. Lookups are cached for a few seconds so a request costs no extra database
round trip; deactivating a system or rotating its token in another process therefore takes
effect within ``_CACHE_SECONDS`` (at once in the process that did it).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import AuthenticationError, GuardUnavailable, NotFound
from hub.services.principal import Principal
from hub.storage.systems import TokenMatch, active_by_token

_CACHE_SECONDS = 5.0
TOKEN_PREFIX = "osh_"  # noqa: S105 - a prefix, not a secret
# system: sends and asks; admin: a district administrator's tool; dpo: a data-protection
# officer's tool (log review); access_log: an e-service that fetches the own access log of the
# person it identified, and nothing else. admin and dpo are bound to districts.
ROLES = ("system", "admin", "dpo", "access_log")
DISTRICT_ROLES = ("admin", "dpo")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh token and its digest: the token is shown once, the digest is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_token(token)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Holder:
    name: str
    role: str
    districts: frozenset[str]
    valid_until: datetime | None
    previous: bool
    cached_at: float


class Authenticator:
    def __init__(self, engine: Engine, clock: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._clock = clock
        self._cache: dict[str, _Holder] = {}
        self._lock = threading.Lock()

    def system_for(self, authorization: str | None) -> str:
        """The sending system for an ``Authorization: Bearer …`` header value."""
        holder = self._identify(authorization)
        if holder.role != "system":
            raise AuthenticationError(
                f"{holder.name!r} is an {holder.role} token; it cannot send or ask"
            )
        return holder.name

    def cached_system(self, authorization: str | None) -> str | None:
        """The sending system if its token is in the cache and valid, else None: no I/O, so
        the API can call it on its event loop and go to a worker thread only on a miss (where
        an expired token gets its 401 with the reason)."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        holder = self._cache.get(hash_token(token.strip()))
        if scheme.lower() != "bearer" or holder is None or holder.role != "system":
            return None
        if time.monotonic() - holder.cached_at >= _CACHE_SECONDS:
            return None
        if holder.valid_until is not None and self._clock() >= holder.valid_until:
            return None
        return holder.name

    def admin_for(self, authorization: str | None) -> Principal:
        """The district administrator for an ``Authorization: Bearer …`` header value."""
        holder = self._identify(authorization)
        if holder.role != "admin":
            raise AuthenticationError(f"{holder.name!r} is not an administrator token")
        if not holder.districts:
            raise AuthenticationError(
                f"administrator {holder.name!r} acts for no district (registered before "
                "administrators were bound to districts); register it again with --district",
                reason="admin_without_district",
            )
        return Principal.district_admin(f"admin:{holder.name}", holder.districts)

    def dpo_for(self, authorization: str | None) -> Principal:
        """A data-protection officer's tool (log review) for its districts."""
        holder = self._identify(authorization)
        if holder.role != "dpo" or not holder.districts:
            raise AuthenticationError(f"{holder.name!r} is not a data-protection officer token")
        return Principal.dpo(f"dpo:{holder.name}", holder.districts)

    def access_log_for(self, authorization: str | None) -> Principal:
        """The e-service holding the own-access-log grant. A valid token without that grant
        gets 404, as if the endpoint did not exist: the grant is not advertised."""
        holder = self._identify(authorization)
        if holder.role != "access_log":
            raise NotFound("not found", reason="not_found")
        return Principal.access_log(holder.name)

    def forget(self) -> None:
        """Drop the cache: a token rotated or a system deactivated in this process counts at
        once here."""
        with self._lock:
            self._cache.clear()

    def _identify(self, authorization: str | None) -> _Holder:
        if not authorization:
            raise AuthenticationError("missing Authorization header (Bearer token)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("Authorization must be 'Bearer <token>'")
        digest = hash_token(token.strip())
        now = time.monotonic()
        holder = self._cache.get(digest)
        if holder is None or now - holder.cached_at >= _CACHE_SECONDS:
            holder = self._holder(self._look_up(digest), now)
            with self._lock:
                self._cache[digest] = holder
        self._check_expiry(holder)
        return holder

    def _look_up(self, digest: str) -> TokenMatch:
        try:
            with self._engine.connect() as conn:
                match = active_by_token(conn, digest)
        except SQLAlchemyError as exc:
            raise GuardUnavailable(
                "the system registry cannot be reached; refusing", reason="storage_unavailable"
            ) from exc
        if match is None:
            raise AuthenticationError("unknown or deactivated token")
        return match

    @staticmethod
    def _holder(match: TokenMatch, now: float) -> _Holder:
        s = match.system
        return _Holder(s.name, s.role, s.districts, match.valid_until, match.previous, now)

    def _check_expiry(self, holder: _Holder) -> None:
        if holder.valid_until is None or self._clock() < holder.valid_until:
            return
        until = f"{holder.valid_until:%Y-%m-%d %H:%M} UTC"
        if holder.previous:
            detail = (
                f"this token of {holder.name!r} was replaced by a rotation; its overlap ended "
                f"at {until}: use the new token"
            )
        else:
            detail = (
                f"the token of {holder.name!r} expired at {until}; an operator issues a new one "
                f"with `omsorgshub systems rotate-token {holder.name}`"
            )
        raise AuthenticationError(detail, reason="token_expired")

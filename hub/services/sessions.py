"""Console sessions: sign in, the session a cookie stands for, sign out, and CSRF.

A session is 32 random bytes in an ``HttpOnly``, ``SameSite=Strict`` cookie; the database
keeps only its SHA-256 (as for system tokens, a 256-bit random value needs no slow hash). Each
session has its own CSRF token, sent in a hidden field of every form and compared at every
POST. A session ends after ``console_idle_minutes`` without a request, after
``console_absolute_hours`` in any case, at sign-out, and for every session of an account at
"sign out everywhere", when the account is disabled or its password reset.

Sign-in goes through a ``PasswordCheck`` (``hub.services.passwords``); an external identity
provider would verify its own assertion and call ``open_session``. Wrong passwords are counted
per account and per client address (``hub.services.throttle``); while either is locked, no
password is even checked. Every sign-in, refused or not, and every sign-out is audited with the
person as actor.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from hub.errors import AuthenticationError, Forbidden
from hub.guards import AuditAction, AuditEvent, Outcome
from hub.services.passwords import Argon2Check, PasswordCheck, hash_password
from hub.services.throttle import Throttle, locked
from hub.services.users import Person, find_person
from hub.storage import people as rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

__all__ = [
    "ConsoleSession",
    "check_csrf",
    "expiry",
    "new_csrf_token",
    "open_session",
    "session_for",
    "sign_in",
    "sign_out",
    "sign_out_everywhere",
]

_TOUCH_SECONDS = 30  # last_seen_at is written at most this often per session


@dataclass(frozen=True)
class ConsoleSession:
    person: Person
    csrf_token: str
    token_hash: str
    created_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(expected: str, submitted: str | None) -> None:
    """Refuse a form whose hidden CSRF field is missing or is not this session's token."""
    if not submitted or not hmac.compare_digest(expected.encode(), submitted.encode()):
        raise Forbidden(
            "the form's security token is missing or stale; reload the page and try again",
            reason="csrf_token_invalid",
        )


def _did(name: str, action: AuditAction, outcome: Outcome, reason: str) -> AuditEvent:
    """A sign-in or sign-out, with the person (or the name typed) as actor."""
    return AuditEvent(action=action, actor=f"user:{name}"[:200], outcome=outcome, reason=reason)


def _refuse(hub: Hub, conn: Connection, name: str, client: str, why: str) -> None:
    reason = f"{why} (from {client})"[:200]
    hub.guards.record(conn, [_did(name, AuditAction.SIGNED_IN, Outcome.REFUSED, reason)])


def sign_in(
    hub: Hub, name: str, password: str, client: str, check: PasswordCheck | None = None
) -> tuple[str, ConsoleSession]:
    """Check the password and open a session: returns the cookie's value and the session.
    Refused (401) with ``login_failed`` for a wrong name or password, alike, or with
    ``login_throttled`` while the account or the client address is locked."""
    check = check or Argon2Check()
    name = name.strip().lower()  # account names are lower case; one count per account
    s = hub.settings
    now = hub.clock()
    keys = {
        f"user:{name}"[:200]: Throttle(s.login_max_failures, s.login_lockout_seconds),
        f"address:{client}"[:200]: Throttle(s.login_address_max_failures, s.login_lockout_seconds),
    }
    refusal: AuthenticationError | None = None
    with hub.engine.begin() as conn:
        counts = {key: rows.hold_failures(conn, key, now) for key in keys}  # in this order
        if any(locked(c.locked_until, now) for c in counts.values()):
            _refuse(hub, conn, name, client, "throttled: too many wrong passwords")
            refusal = AuthenticationError(
                "too many wrong passwords: sign-in is locked for a while; try again later",
                reason="login_throttled",
            )
        else:
            user = rows.get_user(conn, name)
            good = check.verify(user.password_hash if user else None, password)
            if user is None or not user.active or not good:
                for key, throttle in keys.items():
                    failures, until = throttle.after_failure(counts[key].failures, now)
                    rows.put_failures(conn, key, failures, until, now)
                _refuse(hub, conn, name, client, "wrong name or password")
                refusal = AuthenticationError("wrong name or password", reason="login_failed")
            else:
                for key in keys:
                    rows.clear_failures(conn, key)
                if user.password_hash and check.needs_rehash(user.password_hash):
                    rows.set_password(conn, name, hash_password(password), now)
    if refusal is not None:  # raised after the commit: the counts and the audit entry stay
        raise refusal
    return open_session(hub, name, f"password, from {client}")


def open_session(hub: Hub, name: str, how: str) -> tuple[str, ConsoleSession]:
    """A new session of a person whose identity has been established (by password, or by an
    identity provider's assertion)."""
    person = find_person(hub, name)
    if person is None or not person.active:
        raise AuthenticationError("wrong name or password", reason="login_failed")
    token = secrets.token_urlsafe(32)
    csrf = new_csrf_token()
    now = hub.clock()
    with hub.engine.begin() as conn:
        rows.insert_session(conn, _digest(token), name, csrf, now)
        hub.guards.record(conn, [_did(name, AuditAction.SIGNED_IN, Outcome.OK, how)])
    return token, ConsoleSession(person, csrf, _digest(token), now)


def expiry(
    created_at: datetime, last_seen_at: datetime, now: datetime, idle: timedelta, hours: int
) -> str | None:
    """Why a session is over at ``now`` (idle too long, or older than ``hours``), or None."""
    if now - last_seen_at > idle:
        return "the session ended after a while without activity; sign in again"
    if now - created_at > timedelta(hours=hours):
        return "the session reached its longest allowed time; sign in again"
    return None


def _expired(detail: str) -> AuthenticationError:
    return AuthenticationError(detail, reason="session_expired")


def session_for(hub: Hub, token: str | None) -> ConsoleSession:
    """The live session a cookie stands for, or 401 (``session_expired``)."""
    if not token:
        raise _expired("not signed in")
    digest = _digest(token)
    now = hub.clock()
    s = hub.settings
    with hub.reader.connect() as conn:
        row = rows.get_session(conn, digest)
    if row is None or row.ended_at is not None:
        raise _expired("the session has ended; sign in again")
    idle = timedelta(minutes=s.console_idle_minutes)
    problem = expiry(row.created_at, row.last_seen_at, now, idle, s.console_absolute_hours)
    if problem:
        raise _expired(problem)
    person = find_person(hub, row.user_name)
    if person is None or not person.active:
        raise _expired("the account is disabled")
    if (now - row.last_seen_at).total_seconds() >= _TOUCH_SECONDS:
        with hub.engine.begin() as conn:
            rows.touch_session(conn, digest, now)
    return ConsoleSession(person, row.csrf_token, digest, row.created_at)


def sign_out(hub: Hub, session: ConsoleSession) -> None:
    now = hub.clock()
    with hub.engine.begin() as conn:
        rows.end_session(conn, session.token_hash, now)
        event = _did(session.person.name, AuditAction.SIGNED_OUT, Outcome.OK, "this session")
        hub.guards.record(conn, [event])


def sign_out_everywhere(hub: Hub, session: ConsoleSession) -> int:
    """End every session of the session's person (this one too); returns how many."""
    now = hub.clock()
    with hub.engine.begin() as conn:
        ended = rows.end_sessions_of(conn, session.person.name, now)
        reason = f"every session ({ended})"
        event = _did(session.person.name, AuditAction.SIGNED_OUT, Outcome.OK, reason)
        hub.guards.record(conn, [event])
    return ended

"""The IVO double's sessions: a token in the ``ivo_session`` cookie, a CSRF token, the report
being entered, and a lifetime counted from login.

A real web server's session store in small: made at login (a new token, so a session id known
before login is worth nothing after it), gone when its lifetime has passed, and, for tests,
ended on purpose now or after a number of requests (a session lost midway). Thread-safe.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

COOKIE = "ivo_session"


@dataclass
class Session:
    csrf: str
    started: float
    user: str | None = None  # None: not logged in yet (the login form's own session)
    answers: dict[str, str] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)


class SessionStore:
    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._expire_after: int | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def new(self, user: str | None = None) -> tuple[str, Session]:
        """A new session and its token; sessions past their lifetime are dropped meanwhile."""
        token, now = secrets.token_urlsafe(24), time.monotonic()
        session = Session(csrf=secrets.token_urlsafe(24), started=now, user=user)
        with self._lock:
            for old in [t for t, s in self._sessions.items() if now - s.started > self.lifetime]:
                del self._sessions[old]
            self._sessions[token] = session
        return token, session

    def of(self, cookie_header: str) -> tuple[str, Session] | None:
        """The live session the request's Cookie header names, with its token."""
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(cookie_header)
        except CookieError:
            return None
        morsel = cookie.get(COOKIE)
        if morsel is None:
            return None
        with self._lock:
            session = self._sessions.get(morsel.value)
            if session is None:
                return None
            if time.monotonic() - session.started > self.lifetime:
                del self._sessions[morsel.value]
                return None
            return morsel.value, session

    def drop(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def expire(self, after_requests: int = 0) -> None:
        """End every session now, or once ``after_requests`` more requests have come."""
        with self._lock:
            if after_requests:
                self._expire_after = after_requests
            else:
                self._sessions.clear()

    def count_request(self) -> None:
        """One request came: end every session if that was the last one ``expire`` allowed."""
        with self._lock:
            if self._expire_after is not None:
                self._expire_after -= 1
                if self._expire_after <= 0:
                    self._expire_after = None
                    self._sessions.clear()

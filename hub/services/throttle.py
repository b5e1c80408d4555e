"""Login throttling: after ``max_failures`` wrong passwords in a row, an account (or a client
address) is locked for ``lockout_seconds``; every further run of failures doubles the lock, up
to a day. A success clears the count. Pure arithmetic here; the counts live in the database
(``login_failures``), so every serving process sees the same locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_LOCK_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Throttle:
    max_failures: int
    lockout_seconds: int

    def after_failure(self, failures: int, now: datetime) -> tuple[int, datetime | None]:
        """The new count after one more failure, and until when it locks (None: not locked)."""
        failures += 1
        if failures % self.max_failures:
            return failures, None
        runs = failures // self.max_failures
        seconds = min(self.lockout_seconds * 2 ** min(runs - 1, 32), MAX_LOCK_SECONDS)
        return failures, now + timedelta(seconds=seconds)


def locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until

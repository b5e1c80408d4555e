"""The long retry schedule of deliveries, kept in the database as ``next_attempt_at``.

Not Celery countdown/ETA: quorum queues mishandle ETA tasks (celery#6067, #9912), and a
schedule in the database survives any broker loss. Exponential backoff with "full jitter"
(AWS architecture blog) spreads a recovering destination's load; a cap bounds the wait; a
delivery is dead after ``max_attempts`` attempts or ``max_age_seconds`` since it was created.
"""

from __future__ import annotations

import difflib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from hub.errors import ConfigError


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 300.0
    max_attempts: int = 12
    max_age_seconds: float = 86_400.0

    def next_attempt(
        self, attempts: int, created_at: datetime, now: datetime, rng: random.Random | None = None
    ) -> datetime | None:
        """When to try again after ``attempts`` failed attempts, or None when the delivery is dead.

        The delay before attempt n+1 is uniform in [base·2^(n-1) / 2, base·2^(n-1)], capped:
        half-jitter keeps a lower bound so a fast-failing destination is not hammered.
        """
        if attempts >= self.max_attempts:
            return None
        ceiling = min(self.cap_seconds, self.base_seconds * (2 ** max(attempts - 1, 0)))
        delay = (rng or random).uniform(ceiling / 2, ceiling)
        due = now + timedelta(seconds=delay)
        if due - created_at > timedelta(seconds=self.max_age_seconds):
            return None
        return due

    def next_receipt_poll(self, sent_at: datetime, now: datetime, timeout: float) -> datetime:
        """When to ask again for the receipt of a delivery handed over at ``sent_at``.

        The wait grows with the time already waited (a quarter of it, at least ``base_seconds``,
        at most ``cap_seconds``): a receipt that comes in seconds is seen in seconds, one that
        takes hours is not asked for every few seconds. Never later than the receipt deadline
        ``sent_at + timeout``, so a lost receipt is found out on time.
        """
        waited = max(0.0, (now - sent_at).total_seconds())
        delay = min(self.cap_seconds, max(self.base_seconds, waited / 4))
        deadline = sent_at + timedelta(seconds=timeout)
        return min(now + timedelta(seconds=delay), max(deadline, now))

    def exhausted_reason(self, attempts: int) -> str:
        if attempts >= self.max_attempts:
            return f"attempts exhausted ({attempts} of {self.max_attempts})"
        return f"maximum age of {self.max_age_seconds:g} s reached"

    def overridden(self, raw: Mapping[str, object], where: str) -> RetryPolicy:
        names = {f.name: f.type for f in fields(self)}
        changes: dict[str, float | int] = {}
        for key, value in raw.items():
            if key not in names:
                close = difflib.get_close_matches(key, list(names), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"{where}: unknown retry key {key!r}{hint}")
            # TOML has nan and inf: they would pass "< 0" and break the schedule's arithmetic.
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"{where}: retry {key} must be a finite non-negative number")
            changes[key] = int(value) if key == "max_attempts" else float(value)
        return replace(self, **changes)  # type: ignore[arg-type]

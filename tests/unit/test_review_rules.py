"""The log review's rules on hand-made accesses: each rule finds what it says and nothing else."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.referrals.calendar import CallbackCalendar
from hub.review.rules import (
    BURST,
    NO_REFERRAL,
    OFF_HOURS,
    PROTECTED_IDENTITY,
    REFUSED,
    Access,
    Thresholds,
    apply_rules,
    draw_random,
)

ZONE = ZoneInfo("Europe/Stockholm")
LIMITS = Thresholds(
    office_start=time(7),
    office_end=time(18),
    zone=ZONE,
    is_working_day=CallbackCalendar().is_working_day,
    burst_lookups=5,
    burst_minutes=10,
    referral_hours=24,
)
WEDNESDAY = date(2026, 11, 11)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


def access(
    seq: int,
    when: datetime,
    *,
    actor: str = "user:officer",
    action: str = "viewed",
    outcome: str = "ok",
    subject_ref: str | None = None,
    reason: str | None = None,
) -> Access:
    return Access(seq, when, actor, action, outcome, subject_ref or f"ref{seq}", reason)


def rules_of(
    accesses: list[Access], referrals: Sequence[tuple[str, datetime]] = ()
) -> set[tuple[int, str]]:
    found = apply_rules(
        accesses, referrals, LIMITS, judged_until=at(WEDNESDAY, 0) + timedelta(days=30)
    )
    return {(f.seq, f.rule) for f in found}


def test_office_hours_weekends_and_holidays() -> None:
    accesses = [
        access(1, at(WEDNESDAY, 9)),
        access(2, at(WEDNESDAY, 6, 59)),
        access(3, at(WEDNESDAY, 18)),
        access(4, at(date(2026, 11, 14), 10)),  # a Saturday
        access(5, at(date(2026, 12, 24), 10)),  # Christmas Eve: a de facto holiday
        access(6, at(WEDNESDAY, 17, 59)),
    ]
    assert rules_of(accesses) == {(2, OFF_HOURS), (3, OFF_HOURS), (4, OFF_HOURS), (5, OFF_HOURS)}


def test_a_burst_is_found_once_at_the_lookup_that_completes_it() -> None:
    snoop = [access(10 + i, at(WEDNESDAY, 10, i), actor="user:snoop") for i in range(7)]
    calm = [access(30 + i, at(WEDNESDAY, 8 + i), actor="user:calm") for i in range(7)]
    assert rules_of(snoop + calm) == {(14, BURST)}
    # Spread out over more than the window, the same number is no burst.
    slow = [access(50 + i, at(WEDNESDAY, 9, 3 * i), actor="user:slow") for i in range(5)]
    assert rules_of(slow) == set()


def test_protected_identity_and_refusals_by_the_audit_entry() -> None:
    accesses = [
        access(
            1, at(WEDNESDAY, 9), action="refused", outcome="refused", reason="protected_identity"
        ),
        access(2, at(WEDNESDAY, 9), reason="allowed: protected_identity (PUB-X)"),
        access(
            3, at(WEDNESDAY, 9), action="refused", outcome="refused", reason="purpose_not_allowed"
        ),
    ]
    assert rules_of(accesses) == {
        (1, PROTECTED_IDENTITY),
        (1, REFUSED),
        (2, PROTECTED_IDENTITY),
        (3, REFUSED),
    }


def test_a_lookup_without_a_referral_within_the_window() -> None:
    lookups = [
        access(i, at(WEDNESDAY, 9 + i), action="queried", subject_ref=f"p{i}") for i in range(4)
    ]
    referrals = [
        ("p0", at(WEDNESDAY, 9, 30)),  # within the window
        ("p1", at(WEDNESDAY, 8)),  # before the lookup: does not count
        ("p2", at(WEDNESDAY + timedelta(days=2), 9)),  # too late
    ]
    assert rules_of(lookups, referrals) == {(1, NO_REFERRAL), (2, NO_REFERRAL), (3, NO_REFERRAL)}
    # A lookup whose window has not ended is not judged yet.
    early = apply_rules(lookups, referrals, LIMITS, judged_until=at(WEDNESDAY, 23))
    assert early == []


def test_random_draws_leave_the_rules_picks_out() -> None:
    accesses = [access(i, at(WEDNESDAY, 9)) for i in range(100)]
    drawn = draw_random(accesses, {0, 1, 2}, 10, random.Random(1))
    assert len({f.seq for f in drawn}) == 10
    assert not {0, 1, 2} & {f.seq for f in drawn}
    assert len(draw_random(accesses[:5], {0}, 10, random.Random(1))) == 4


def test_an_unknown_rule_is_named() -> None:
    with pytest.raises(ValueError, match="no review rule 'nosy'"):
        apply_rules([], [], LIMITS, judged_until=at(WEDNESDAY, 9), rules=["nosy"])

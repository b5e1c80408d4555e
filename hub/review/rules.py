"""Which accesses a log review looks at: the rule-based picks and the random draw (pure).

HSLF-FS 2016:40 4 kap. 9 § asks the care provider to review access logs systematically and
recurrently. A review cannot read every entry, so it reads a sample: every access that a rule
finds suspicious, and a random share of the rest so that nothing is safe from being looked at.

The rules, each over the accesses of one district in one period:

- ``off_hours``: an access outside office hours (``review_office_hours``) or on a day that is
  not a working day (weekends, Swedish public and de facto holidays: the referral calendar);
- ``burst``: ``review_burst_lookups`` or more lookups by one actor within
  ``review_burst_minutes``: one finding per burst, at the entry that completed it;
- ``protected_identity``: any access whose audit reason names ``protected_identity`` (the
  confidentiality check of issue 15 §4 writes that reason; until it exists the rule finds none);
- ``no_referral``: a lookup about a person after which the same district received no referral
  about that person within ``review_referral_hours`` (why look someone up and not refer?);
- ``refused``: an access the hub refused.

The hub's own work (received, decrypted for delivery, delivered) is no one's access and is not
reviewed; neither are the review's own entries.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from audit.entry import AuditAction, Outcome

OFF_HOURS = "off_hours"
BURST = "burst"
PROTECTED_IDENTITY = "protected_identity"
NO_REFERRAL = "no_referral"
REFUSED = "refused"
RANDOM = "random"
RULES: tuple[str, ...] = (OFF_HOURS, BURST, PROTECTED_IDENTITY, NO_REFERRAL, REFUSED)

# Someone's reading of personal data, or the attempt: what a review looks at.
REVIEWED_ACTIONS: frozenset[str] = frozenset(
    {
        AuditAction.VIEWED,
        AuditAction.QUERIED,
        AuditAction.EXPORTED,
        AuditAction.REPLAYED,
        AuditAction.REFUSED,
        AuditAction.AUDIT_SEARCHED,
    }
)
LOOKUP_ACTIONS: frozenset[str] = frozenset({AuditAction.QUERIED, AuditAction.VIEWED})


@dataclass(frozen=True)
class Access:
    """One audit entry as the rules see it (``at`` timezone-aware)."""

    seq: int
    at: datetime
    actor: str
    action: str
    outcome: str
    subject_ref: str | None
    reason: str | None


@dataclass(frozen=True)
class Thresholds:
    office_start: time
    office_end: time
    zone: ZoneInfo
    is_working_day: Callable[[date], bool]
    burst_lookups: int
    burst_minutes: float
    referral_hours: float


@dataclass(frozen=True)
class Finding:
    seq: int
    rule: str
    note: str


def reviewable(accesses: Iterable[Access]) -> list[Access]:
    return [a for a in accesses if a.action in REVIEWED_ACTIONS and a.subject_ref is not None]


def off_hours(accesses: Sequence[Access], t: Thresholds) -> list[Finding]:
    found = []
    working: dict[date, bool] = {}  # a month has some thirty days; accesses are thousands
    for a in accesses:
        local = a.at.astimezone(t.zone)
        day = local.date()
        open_day = working.get(day)
        if open_day is None:
            open_day = working[day] = t.is_working_day(day)
        if not open_day:
            found.append(Finding(a.seq, OFF_HOURS, f"{local:%A %Y-%m-%d %H:%M}, no working day"))
        elif not t.office_start <= local.time() < t.office_end:
            found.append(Finding(a.seq, OFF_HOURS, f"{local:%Y-%m-%d %H:%M}, outside office hours"))
    return found


def bursts(accesses: Sequence[Access], t: Thresholds) -> list[Finding]:
    """One finding per burst and actor: the lookup that made ``burst_lookups`` within the
    window; the next burst of that actor starts after that window."""
    window = timedelta(minutes=t.burst_minutes)
    by_actor: dict[str, list[Access]] = defaultdict(list)
    for a in accesses:
        if a.action in LOOKUP_ACTIONS:
            by_actor[a.actor].append(a)
    found = []
    for actor, rows in by_actor.items():
        rows.sort(key=lambda a: a.at)
        recent: deque[Access] = deque()
        for a in rows:
            recent.append(a)
            while a.at - recent[0].at > window:
                recent.popleft()
            if len(recent) >= t.burst_lookups:
                note = (
                    f"{len(recent)} lookups by {actor} in {t.burst_minutes:g} min "
                    f"(entries {recent[0].seq}-{a.seq})"
                )
                found.append(Finding(a.seq, BURST, note[:200]))
                recent.clear()
    return found


def protected(accesses: Sequence[Access]) -> list[Finding]:
    return [
        Finding(a.seq, PROTECTED_IDENTITY, "a person with protected identity")
        for a in accesses
        if a.reason and PROTECTED_IDENTITY in a.reason
    ]


def refused(accesses: Sequence[Access]) -> list[Finding]:
    return [
        Finding(a.seq, REFUSED, (a.reason or "refused")[:200])
        for a in accesses
        if a.outcome == Outcome.REFUSED
    ]


def without_referral(
    accesses: Sequence[Access],
    referrals: Iterable[tuple[str, datetime]],
    t: Thresholds,
    judged_until: datetime,
) -> list[Finding]:
    """Lookups with no referral about the person (``(subject_ref, received_at)``) within the
    window after them. A lookup whose window has not ended by ``judged_until`` is not judged
    yet: its referral may still come."""
    window = timedelta(hours=t.referral_hours)
    received: dict[str, list[datetime]] = defaultdict(list)
    for ref, at in referrals:
        received[ref].append(at)
    found = []
    for a in accesses:
        if a.action != AuditAction.QUERIED or a.outcome != Outcome.OK or a.subject_ref is None:
            continue
        if a.at + window > judged_until:
            continue
        if not any(a.at <= at <= a.at + window for at in received.get(a.subject_ref, ())):
            note = f"no referral within {t.referral_hours:g} h of the lookup"
            found.append(Finding(a.seq, NO_REFERRAL, note))
    return found


def apply_rules(
    accesses: Sequence[Access],
    referrals: Iterable[tuple[str, datetime]],
    t: Thresholds,
    judged_until: datetime,
    rules: Iterable[str] = RULES,
) -> list[Finding]:
    """Every finding of the chosen rules, by entry, rules in ``RULES`` order."""
    chosen = set(rules)
    unknown = chosen - set(RULES)
    if unknown:
        raise ValueError(f"no review rule {sorted(unknown)[0]!r}; known: {', '.join(RULES)}")
    found: list[Finding] = []
    if OFF_HOURS in chosen:
        found += off_hours(accesses, t)
    if BURST in chosen:
        found += bursts(accesses, t)
    if PROTECTED_IDENTITY in chosen:
        found += protected(accesses)
    if NO_REFERRAL in chosen:
        found += without_referral(accesses, referrals, t, judged_until)
    if REFUSED in chosen:
        found += refused(accesses)
    return found


def draw_random(
    accesses: Sequence[Access], exclude: set[int], count: int, rng: random.Random
) -> list[Finding]:
    """``count`` accesses at random among those no rule picked (fewer if there are fewer)."""
    pool = [a.seq for a in accesses if a.seq not in exclude]
    return [Finding(seq, RANDOM, "random draw") for seq in rng.sample(pool, min(count, len(pool)))]

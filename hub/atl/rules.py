"""The working-time rules: one assistant's shifts and a rule set in, violations out. Pure.

Time is cut into intervals of aware datetimes. *Work* is ordinary time, overtime and (unless the
rule set counts it as rest) on-call time at the workplace (jour); standby away from it
(beredskap) is not working time. Breaks inside a shift are neither work for the break rule
nor rest for the rest rules (a break is no rest period).

What the check knows: the shifts the caller loaded (the period, and before it as far as the
windows reach back). Time with no report is counted in the assistant's favour: free
for the rest rules, empty for the caps. So every violation reported is certain from the data
alone; one that needs later reports to show is found when their period is checked.

Windows (local time of the rule set's zone): daily rest, every 24 hours from the start of each
block of work; the night (00-05 by default) of every day; weekly rest, every week from Monday;
ordinary time, every run of ``weeks`` weeks from a Monday; total time, every run of
``months`` calendar months ending in a month of the period; caps, every four weeks from a Monday
or every calendar month, and the calendar year. A window is checked when it overlaps the
checked period. A threshold is a limit reached, not broken: 11:00 of rest is enough, 10:59 is
not; 5:00 without a break is allowed, 5:01 is not.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hub.atl.config import Cap, RuleSet

HOUR = timedelta(hours=1)


class Kind(StrEnum):
    ORDINARY = "ordinary"
    OVERTIME = "overtime"
    ON_CALL = "on_call"  # jour: at the workplace, available
    STANDBY = "standby"  # beredskap: reachable, away from the workplace: not working time


Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Shift:
    start: datetime
    end: datetime
    kind: Kind = Kind.ORDINARY
    breaks: tuple[Interval, ...] = ()

    def worked(self) -> list[Interval]:
        """The shift without its breaks."""
        pieces: list[Interval] = []
        at = self.start
        for b_start, b_end in sorted(self.breaks):
            if b_start > at:
                pieces.append((at, min(b_start, self.end)))
            at = max(at, b_end)
        if at < self.end:
            pieces.append((at, self.end))
        return pieces


@dataclass(frozen=True)
class Violation:
    rule: str
    source: str
    start: datetime  # the window or stretch concerned
    end: datetime
    measured: float  # hours: the rest found, or the hours worked
    limit: float  # hours

    def text(self) -> str:
        return (
            f"{self.rule}: {self.measured:.2f} h against {self.limit:g} h "
            f"({self.start.isoformat()} – {self.end.isoformat()}; {self.source})"
        )


def check(shifts: Sequence[Shift], rules: RuleSet, period: tuple[date, date]) -> list[Violation]:
    """Every violation of ``rules`` whose window overlaps ``period`` (first day, last day).

    ``shifts`` are one assistant's at one employer: those of the period and, for the four-week
    windows and the year's caps, those before it that the caller loaded."""
    zone = ZoneInfo(rules.time_zone)
    p_start = _midnight(period[0], zone)
    p_end = _midnight(period[1] + timedelta(days=1), zone)
    found: list[Violation] = []
    rests = (Kind.STANDBY, Kind.ON_CALL) if rules.on_call_counts_as_rest else (Kind.STANDBY,)
    blocking = _merge([(s.start, s.end) for s in shifts if s.kind not in rests])
    if rules.daily_rest.enabled:
        found += _daily_rest(blocking, rules, (p_start, p_end))
        if rules.daily_rest.include_night:
            found += _night_rest(blocking, rules, zone, (p_start, p_end))
    if rules.weekly_rest.enabled:
        for window in _weeks(p_start, p_end, zone, 1):
            rest = _longest_free(blocking, window)
            if rest < rules.weekly_rest.hours * HOUR:
                wr = rules.weekly_rest
                found.append(_v("weekly_rest", wr.source, window, rest, wr.hours))
    if rules.breaks.enabled:
        found += _breaks(shifts, rules, (p_start, p_end))
    by_kind = {k: _merge([iv for s in shifts if s.kind is k for iv in s.worked()]) for k in Kind}
    if rules.ordinary_time.enabled:
        ot = rules.ordinary_time
        for window in _weeks(p_start, p_end, zone, ot.weeks):
            hours = _sum(by_kind[Kind.ORDINARY], window)
            limit = ot.hours_per_week * ot.weeks
            if hours > limit * HOUR:
                found.append(_v("ordinary_time", ot.source, window, hours, limit))
    if rules.total_time.enabled:
        tt = rules.total_time
        for window in _months(p_start, p_end, zone, tt.months):
            hours = _sum(blocking, window)
            limit = tt.hours_per_week * ((window[1] - window[0]) / timedelta(weeks=1))
            if hours > limit * HOUR:
                found.append(_v("total_time", tt.source, window, hours, round(limit, 2)))
    if rules.overtime.enabled:
        found += _caps("overtime", by_kind[Kind.OVERTIME], rules.overtime, zone, (p_start, p_end))
    if rules.on_call.enabled:
        found += _caps("on_call", by_kind[Kind.ON_CALL], rules.on_call, zone, (p_start, p_end))
    return found


# -- the rules ----------------------------------------------------------------------------------


def _daily_rest(blocking: list[Interval], rules: RuleSet, period: Interval) -> list[Violation]:
    need = rules.daily_rest.hours * HOUR
    out: list[Violation] = []
    covered_until: datetime | None = None
    for start, _ in blocking:
        window = (start, start + 24 * HOUR)
        if not _overlaps(window, period) or (covered_until and start < covered_until):
            continue
        rest = _longest_free(blocking, window)
        if rest < need:
            dr = rules.daily_rest
            out.append(_v("daily_rest", dr.source, window, rest, dr.hours))
            covered_until = window[1]  # one violation per 24 hours, not one per shift
    return out


def _night_rest(
    blocking: list[Interval], rules: RuleSet, zone: ZoneInfo, period: Interval
) -> list[Violation]:
    out: list[Violation] = []
    day = period[0].astimezone(zone).date() - timedelta(days=1)
    while _midnight(day, zone) < period[1]:
        night = (
            datetime.combine(day, rules.daily_rest.night_start, zone),
            datetime.combine(day, rules.daily_rest.night_end, zone),
        )
        if night[1] <= night[0]:
            night = (night[0], night[1] + timedelta(days=1))
        worked = _sum(blocking, night)
        if worked > timedelta(0) and _overlaps(night, period):
            out.append(_v("night_rest", rules.daily_rest.source, night, worked, 0))
        day += timedelta(days=1)
    return out


def _breaks(shifts: Sequence[Shift], rules: RuleSet, period: Interval) -> list[Violation]:
    limit = rules.breaks.max_hours_without_break
    stretches = _merge(
        iv for s in shifts if s.kind in (Kind.ORDINARY, Kind.OVERTIME) for iv in s.worked()
    )
    return [
        _v("breaks", rules.breaks.source, iv, iv[1] - iv[0], limit)
        for iv in stretches
        if iv[1] - iv[0] > limit * HOUR and _overlaps(iv, period)
    ]


def _caps(
    rule: str, worked: list[Interval], cap: Cap, zone: ZoneInfo, period: Interval
) -> list[Violation]:
    out: list[Violation] = []
    windows = (
        _weeks(period[0], period[1], zone, 4)
        if cap.window == "4w"
        else _months(period[0], period[1], zone)
    )
    for window in windows:
        hours = _sum(worked, window)
        if hours > cap.per_window() * HOUR:
            out.append(_v(rule, cap.source, window, hours, cap.per_window()))
    if cap.per_year:
        y = period[0].astimezone(zone).year
        year = (_midnight(date(y, 1, 1), zone), _midnight(date(y + 1, 1, 1), zone))
        hours = _sum(worked, year)
        if hours > cap.per_year * HOUR:
            out.append(_v(f"{rule}_year", cap.source, year, hours, cap.per_year))
    return out


# -- time arithmetic ----------------------------------------------------------------------------


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with touching and overlapping intervals joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _sum(intervals: list[Interval], window: Interval) -> timedelta:
    """Time of ``intervals`` (merged: sorted, disjoint) inside ``window``."""
    total = timedelta(0)
    for start, end in _within(intervals, window):
        total += min(end, window[1]) - max(start, window[0])
    return total


def _within(intervals: list[Interval], window: Interval) -> Iterator[Interval]:
    """The merged ``intervals`` that overlap ``window``, found by bisection (their ends are
    sorted because they are disjoint)."""
    i = bisect_right(intervals, window[0], key=lambda iv: iv[1])
    while i < len(intervals) and intervals[i][0] < window[1]:
        yield intervals[i]
        i += 1


def _longest_free(blocking: list[Interval], window: Interval) -> timedelta:
    """The longest stretch without work inside ``window`` (time with no report is free)."""
    lo, hi = window
    at, best = lo, timedelta(0)
    for start, end in _within(blocking, window):
        best = max(best, start - at)
        at = max(at, end)
    return max(best, hi - at)


def _weeks(start: datetime, end: datetime, zone: ZoneInfo, weeks: int) -> list[Interval]:
    """Windows of ``weeks`` weeks from every Monday, overlapping ``[start, end)``."""
    first = start.astimezone(zone).date()
    monday = first - timedelta(days=first.weekday() + 7 * (weeks - 1))
    out: list[Interval] = []
    while _midnight(monday, zone) < end:
        window = (_midnight(monday, zone), _midnight(monday + timedelta(weeks=weeks), zone))
        if window[1] > start:
            out.append(window)
        monday += timedelta(weeks=1)
    return out


def _months(start: datetime, end: datetime, zone: ZoneInfo, count: int = 1) -> list[Interval]:
    """Runs of ``count`` calendar months, one ending in each month that overlaps
    ``[start, end)``."""
    last = start.astimezone(zone).date().replace(day=1)
    out: list[Interval] = []
    while _midnight(last, zone) < end:
        following = _add_months(last, 1)
        out.append((_midnight(_add_months(last, 1 - count), zone), _midnight(following, zone)))
        last = following
    return out


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _v(rule: str, source: str, window: Interval, measured: timedelta, limit: float) -> Violation:
    return Violation(rule, source, window[0], window[1], round(measured / HOUR, 4), limit)

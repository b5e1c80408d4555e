"""Each working-time rule at its exact boundary (hub.atl.rules with the statutory rule sets)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.atl.config import ATL, DOMESTIC, LAW_DEFAULTS, RuleSet
from hub.atl.rules import Kind, Shift, Violation, check

Z = ZoneInfo("Europe/Stockholm")
NOV = (date(2026, 11, 1), date(2026, 11, 30))


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=Z)


def only(rules: RuleSet, *keep: str) -> RuleSet:
    """The rule set with every rule but ``keep`` switched off."""
    names = (
        *("daily_rest", "weekly_rest", "breaks"),
        *("ordinary_time", "total_time", "overtime", "on_call"),
    )
    update = {n: getattr(rules, n).model_copy(update={"enabled": n in keep}) for n in names}
    return rules.model_copy(update=update)


def rules_of(result: list[Violation]) -> list[str]:
    return [v.rule for v in result]


def with_break(start: datetime, hours: float) -> Shift:
    """A shift of ``hours`` with a 30-minute break every 4 hours (no break rule broken)."""
    end = start + timedelta(hours=hours)
    breaks = []
    b = start + timedelta(hours=4)
    while b < end:
        breaks.append((b, b + timedelta(minutes=30)))
        b += timedelta(hours=4, minutes=30)
    return Shift(start, end, Kind.ORDINARY, tuple(breaks))


@pytest.mark.parametrize(("next_start", "broken"), [((3, 8, 0), False), ((3, 7, 59), True)])
def test_daily_rest_11_00_is_enough_10_59_is_not(
    next_start: tuple[int, int, int], broken: bool
) -> None:
    rules = only(LAW_DEFAULTS[ATL], "daily_rest")
    shifts = [with_break(at(2, 8), 13), with_break(at(*next_start), 8)]
    found = check(shifts, rules, NOV)
    assert ("daily_rest" in rules_of(found)) is broken
    if broken:
        v = next(v for v in found if v.rule == "daily_rest")
        assert v.measured == pytest.approx(10 + 59 / 60, abs=1e-3)
        assert v.limit == 11
        assert "13 §" in v.source


@pytest.mark.parametrize(("end_minute", "broken"), [(0, False), (1, True)])
def test_the_night_00_05_belongs_to_the_rest(end_minute: int, broken: bool) -> None:
    rules = only(LAW_DEFAULTS[ATL], "daily_rest")
    shift = Shift(at(4, 20), at(5, 0, end_minute), Kind.ORDINARY, ((at(4, 23), at(4, 23, 30)),))
    assert ("night_rest" in rules_of(check([shift], rules, NOV))) is broken
    exempt = rules.model_copy(
        update={"daily_rest": rules.daily_rest.model_copy(update={"include_night": False})}
    )
    assert "night_rest" not in rules_of(check([shift], exempt, NOV))


@pytest.mark.parametrize(("minutes", "broken"), [(0, False), (1, True)])
def test_five_hours_without_a_break_but_not_five_and_a_minute(minutes: int, broken: bool) -> None:
    rules = only(LAW_DEFAULTS[ATL], "breaks")
    shift = Shift(at(2, 8), at(2, 13, minutes))
    assert ("breaks" in rules_of(check([shift], rules, NOV))) is broken
    # A break in it resets the count; two shifts that touch are one stretch.
    split = Shift(at(2, 8), at(2, 13, 1), breaks=((at(2, 10), at(2, 10, 15)),))
    assert check([split], rules, NOV) == []
    touching = [Shift(at(2, 8), at(2, 11)), Shift(at(2, 11), at(2, 13, 1))]
    assert rules_of(check(touching, rules, NOV)) == ["breaks"]


@pytest.mark.parametrize(("rest_minutes", "broken"), [(36 * 60, False), (36 * 60 - 1, True)])
def test_weekly_rest_36_hours_in_every_week_from_monday(rest_minutes: int, broken: bool) -> None:
    rules = only(LAW_DEFAULTS[ATL], "weekly_rest")
    # Week of Monday 9 November: work every day 07-19, except one free stretch.
    free_from = at(12, 19)
    free_to = free_from + timedelta(minutes=rest_minutes)
    shifts = []
    for day in range(9, 16):
        s, e = at(day, 7), at(day, 19)
        if e <= free_from or s >= free_to:
            shifts.append(Shift(s, e))
        elif s < free_from:
            shifts.append(Shift(s, free_from))
    shifts.append(Shift(free_to, free_to + timedelta(hours=2)))
    found = [v for v in check(shifts, rules, NOV) if v.start == at(9, 0)]
    assert bool(found) is broken


def four_weeks(hours: float, kind: Kind = Kind.ORDINARY, first: int = 2) -> list[Shift]:
    """``hours`` spread over the 28 days from Monday ``first`` November, 8-hour days or less."""
    shifts, left, day = [], timedelta(hours=hours), 0
    while left > timedelta(0):
        piece = min(left, timedelta(hours=8))
        start = at(first, 8) + timedelta(days=day)
        shifts.append(Shift(start, start + piece, kind))
        left -= piece
        day += 1
    return shifts


@pytest.mark.parametrize(("extra_minutes", "broken"), [(0, False), (1, True)])
def test_ordinary_time_40_hours_a_week_on_average_over_four_weeks(
    extra_minutes: int, broken: bool
) -> None:
    rules = only(LAW_DEFAULTS[ATL], "ordinary_time")
    shifts = four_weeks(160 + extra_minutes / 60)
    found = check(shifts, rules, NOV)
    assert ("ordinary_time" in rules_of(found)) is broken
    # One heavy week alone is allowed when the four weeks average 40 h.
    heavy = [Shift(at(d, 6), at(d, 18)) for d in (2, 3, 4, 5, 6)]  # 60 h in the first week
    assert check(heavy + four_weeks(100, first=9), rules, NOV) == []


@pytest.mark.parametrize(
    ("kind", "rule", "cap"), [(Kind.OVERTIME, "overtime", 48), (Kind.ON_CALL, "on_call", 48)]
)
@pytest.mark.parametrize(("extra_minutes", "broken"), [(0, False), (1, True)])
def test_overtime_and_on_call_48_hours_per_four_weeks(
    kind: Kind, rule: str, cap: int, extra_minutes: int, broken: bool
) -> None:
    rules = only(LAW_DEFAULTS[ATL], rule)
    found = check(four_weeks(cap + extra_minutes / 60, kind), rules, NOV)
    assert (rule in rules_of(found)) is broken


@pytest.mark.parametrize(("extra_minutes", "broken"), [(0, False), (1, True)])
def test_overtime_50_hours_per_calendar_month_where_the_agreement_counts_months(
    extra_minutes: int, broken: bool
) -> None:
    law = LAW_DEFAULTS[ATL]
    rules = only(law, "overtime").model_copy(
        update={"overtime": law.overtime.model_copy(update={"window": "month"})}
    )
    # 50 h within November, spread so that no four weeks hold more than 48 h would not matter:
    # the month is the window. The same hours on 31 October and 1 November split the months.
    shifts = four_weeks(50 + extra_minutes / 60, Kind.OVERTIME)
    assert ("overtime" in rules_of(check(shifts, rules, NOV))) is broken
    split = [Shift(at(31, 8, month=10), at(31, 20, month=10), Kind.OVERTIME)]
    split += four_weeks(40, Kind.OVERTIME)
    assert check(split, rules, NOV) == []


@pytest.mark.parametrize(("extra_minutes", "broken"), [(0, False), (1, True)])
def test_overtime_200_hours_per_calendar_year(extra_minutes: int, broken: bool) -> None:
    law = LAW_DEFAULTS[ATL]
    rules = only(law, "overtime")
    # 40 h in each of five earlier months (never over 48 per four weeks) + the rest in November.
    shifts = []
    for month in (3, 5, 7, 9, 10):
        shifts += [
            Shift(at(d, 8, month=month), at(d, 16, month=month), Kind.OVERTIME)
            for d in (5, 6, 7, 8, 9)
        ]
    shifts += four_weeks(extra_minutes / 60, Kind.OVERTIME) if extra_minutes else []
    found = rules_of(check(shifts, rules, NOV))
    assert ("overtime_year" in found) is broken


def test_the_domestic_work_act_allows_300_hours_of_overtime_a_year() -> None:
    domestic = LAW_DEFAULTS[DOMESTIC]
    assert domestic.overtime.per_year == 300
    assert domestic.overtime.per_four_weeks == 48
    shifts = []
    for month in (2, 3, 5, 6, 7, 9, 10):
        shifts += [
            Shift(at(d, 8, month=month), at(d, 16, month=month), Kind.OVERTIME)
            for d in (5, 6, 9, 10, 11)
        ]
    shifts += four_weeks(20, Kind.OVERTIME)  # 280 + 20 = 300 h: at the cap
    assert check(shifts, domestic, NOV) == []
    shifts.append(Shift(at(27, 8), at(27, 8, 1), Kind.OVERTIME))
    assert "overtime_year" in rules_of(check(shifts, domestic, NOV))
    # The ATL's 200 h would already be broken by the same year.
    assert "overtime_year" in rules_of(check(shifts, only(LAW_DEFAULTS[ATL], "overtime"), NOV))


def test_standby_is_no_working_time_and_a_clean_month_has_no_violation() -> None:
    rules = LAW_DEFAULTS[ATL]
    shifts = [with_break(at(d, 8), 8) for d in range(2, 7)]  # Mon-Fri 08-16.30
    shifts.append(Shift(at(6, 17), at(7, 8), Kind.STANDBY))
    assert check(shifts, rules, NOV) == []


def spread(hours: float, first: datetime, kind: Kind = Kind.ORDINARY) -> list[Shift]:
    """``hours`` in days of at most 8 hours from ``first`` on."""
    shifts, left, day = [], timedelta(hours=hours), 0
    while left > timedelta(0):
        piece = min(left, timedelta(hours=8))
        start = first + timedelta(days=day)
        shifts.append(Shift(start, start + piece, kind))
        left -= piece
        day += 1
    return shifts


@pytest.mark.parametrize(("extra_minutes", "broken"), [(0, False), (1, True)])
def test_total_time_a_week_on_average_over_four_calendar_months(
    extra_minutes: int, broken: bool
) -> None:
    law = LAW_DEFAULTS[ATL]
    assert (law.total_time.hours_per_week, law.total_time.months) == (48, 4)
    # 49 h a week (an agreement's figure) over August-November (122 days) is exactly 854 h.
    rules = only(law, "total_time").model_copy(
        update={"total_time": law.total_time.model_copy(update={"hours_per_week": 49})}
    )
    shifts = spread(854 + extra_minutes / 60, at(1, 6, month=8))
    found = [v for v in check(shifts, rules, NOV) if v.rule == "total_time"]
    assert bool(found) is broken
    if broken:
        assert (found[0].start, found[0].end) == (at(1, 0, month=8), at(1, 0, month=12))
        assert found[0].limit == 854

"""Callback deadlines at their boundaries: weekends, Swedish holidays, midnight, summer time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.referrals.calendar import CallbackCalendar

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CAL = CallbackCalendar()


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=STOCKHOLM)


def end_of(day: str) -> datetime:
    """The exclusive end of a local calendar day, as the calendar gives it (UTC)."""
    return local(f"{day}T00:00").astimezone(UTC)


@pytest.mark.parametrize(
    ("received", "urgency", "deadline_begins"),
    [
        # An ordinary Monday: Tuesday, Wednesday.
        ("2026-12-07T10:00", "normal", "2026-12-10"),
        # Friday afternoon: the weekend does not count -> Monday, Tuesday.
        ("2026-12-04T15:30", "normal", "2026-12-09"),
        # Saturday: Monday, Tuesday.
        ("2026-12-05T11:00", "normal", "2026-12-09"),
        # The day before Midsummer Eve (Thu 18 June 2026): Midsummer Eve (de facto), Midsummer
        # Day (Saturday) and Sunday do not count -> Mon 22, Tue 23.
        ("2026-06-18T09:00", "normal", "2026-06-24"),
        # The day before Christmas Eve (Wed 23 Dec 2026): 24th (de facto), 25th, 26th, Sunday
        # -> Mon 28, Tue 29.
        ("2026-12-23T14:00", "normal", "2026-12-30"),
        # New Year: Wed 30 Dec -> 31st (de facto), 1 Jan (public), weekend -> Mon 4, Tue 5 Jan.
        ("2026-12-30T16:00", "normal", "2027-01-06"),
        # 5 January 2027 (Tuesday): Epiphany (6th) does not count -> Thu 7, Fri 8.
        ("2027-01-05T08:00", "normal", "2027-01-09"),
        # Easter 2027: Maundy Thursday 25 March -> Good Friday, weekend, Easter Monday out
        # -> Tue 30, Wed 31 March.
        ("2027-03-25T12:00", "normal", "2027-04-01"),
        # Urgent: the same day, whatever the day.
        ("2026-12-04T15:30", "urgent", "2026-12-05"),
        ("2026-12-24T09:00", "urgent", "2026-12-25"),
        # A referral at 23:59 is still that day's: urgent is due within the minute, a normal
        # one counts from the next day.
        ("2026-12-07T23:59", "urgent", "2026-12-08"),
        ("2026-12-07T23:59", "normal", "2026-12-10"),
        # 00:00 belongs to the new day.
        ("2026-12-08T00:00", "urgent", "2026-12-09"),
    ],
)
def test_deadline(received: str, urgency: str, deadline_begins: str) -> None:
    assert CAL.deadline(urgency, local(received).astimezone(UTC)) == end_of(deadline_begins)


def test_the_local_day_decides_not_the_utc_day() -> None:
    # 23:30 UTC on Monday 7 December is 00:30 on Tuesday in Stockholm.
    received = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    assert CAL.deadline("urgent", received) == end_of("2026-12-09")
    assert CAL.deadline("normal", received) == end_of("2026-12-11")


def test_summer_time_begins_the_urgent_day_has_23_hours() -> None:
    # Sunday 29 March 2026: clocks go from 02:00 to 03:00. Received 01:30 CET (00:30 UTC),
    # due at the start of Monday 00:00 CEST = 22:00 UTC on Sunday.
    received = local("2026-03-29T01:30")
    assert received.utcoffset() == timedelta(hours=1)
    deadline = CAL.deadline("urgent", received.astimezone(UTC))
    assert deadline == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    assert (deadline - received.astimezone(UTC)).total_seconds() == 21.5 * 3600


def test_summer_time_ends_across_a_normal_deadline() -> None:
    # Friday 23 October 2026 (CEST) -> Mon 26, Tue 27 (CET after Sunday 25th): due at the
    # start of Wednesday 28th 00:00 CET = 23:00 UTC on the 27th.
    deadline = CAL.deadline("normal", local("2026-10-23T10:00").astimezone(UTC))
    assert deadline == datetime(2026, 10, 27, 23, 0, tzinfo=UTC)


def test_the_working_days_are_a_setting() -> None:
    three = CallbackCalendar(working_days=3)
    assert three.deadline("normal", local("2026-12-04T15:30")) == end_of("2026-12-10")
    with pytest.raises(ValueError, match="at least one working day"):
        CallbackCalendar(working_days=0)


def test_working_days() -> None:
    assert CAL.is_working_day(local("2026-12-07").date())
    assert not CAL.is_working_day(local("2026-12-05").date())  # Saturday
    assert not CAL.is_working_day(local("2026-06-19").date())  # Midsummer Eve (de facto)
    assert not CAL.is_working_day(local("2026-06-06").date())  # National Day (a Saturday)
    assert not CAL.is_working_day(local("2027-05-06").date())  # Ascension Day 2027
    assert CAL.is_working_day(local("2027-05-07").date())  # the day after: a working Friday

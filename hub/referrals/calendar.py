"""The callback deadline of a referral: Äldre direkt's rule on the districts' calendar.

Seed 001: a district calls back within two working days; a case that cannot wait 24 hours is
urgent and is called back the same day. So:

- ``urgent``: the end of the calendar day the hub received the referral, in the districts'
  time zone (setting ``time_zone``, Europe/Stockholm): a weekend or holiday changes nothing.
- otherwise: the end of the N-th working day after that day (setting
  ``referral_callback_working_days``, 2). A working day is a weekday that is no Swedish
  public holiday and no de facto holiday (Midsummer Eve, Christmas Eve, New Year's Eve, days
  that Swedish working-time law treats like Sundays and municipal offices keep closed).

"End of day" is the instant the next local day begins (exclusive): a deadline is never
ambiguous across a change to or from summer time, and "overdue" is ``now >= deadline``.

The calendar is the ``holidays`` library's (country SE, categories public and de facto), a
maintained table with Easter-based and weekday-based days worked out per year; each year's
days are computed once and kept as a frozen set (the library's own object fills itself lazily
and is not meant to be shared by threads).
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

URGENT = "urgent"
NORMAL = "normal"
HOLIDAY_CATEGORIES = ("public", "de_facto")


class CallbackCalendar:
    """Working days and callback deadlines in one time zone."""

    def __init__(
        self, *, time_zone: str = "Europe/Stockholm", working_days: int = 2, country: str = "SE"
    ) -> None:
        if working_days < 1:
            raise ValueError("a callback needs at least one working day")
        self.zone = ZoneInfo(time_zone)
        self.working_days = working_days
        self._country = country
        self._years: dict[int, frozenset[date]] = {}
        self._lock = threading.Lock()
        # A deadline depends only on the local day and the urgency; ingest asks for each
        # referral, so each (day, urgent) is worked out once (a few entries a day).
        self._deadlines: dict[tuple[date, bool], datetime] = {}

    def holidays_of(self, year: int) -> frozenset[date]:
        with self._lock:
            found = self._years.get(year)
            if found is None:
                table = holidays.country_holidays(
                    self._country, years=year, categories=HOLIDAY_CATEGORIES
                )
                found = frozenset(table.keys())
                self._years[year] = found
            return found

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays_of(day.year)

    def deadline(self, urgency: str, received_at: datetime) -> datetime:
        """When the callback is due (exclusive, UTC) for a referral received at ``received_at``."""
        received = received_at.astimezone(self.zone).date()
        key = (received, urgency == URGENT)
        found = self._deadlines.get(key)
        if found is not None:
            return found
        day = received
        if urgency != URGENT:
            counted = 0
            while counted < self.working_days:
                day += timedelta(days=1)
                if self.is_working_day(day):
                    counted += 1
        found = self.start_of(day + timedelta(days=1))
        if len(self._deadlines) > 4096:  # a long-running process: keep it small
            self._deadlines.clear()
        self._deadlines[key] = found
        return found

    def start_of(self, day: date) -> datetime:
        """The instant ``day`` begins in the zone, in UTC (midnight exists on every day in
        the zones the hub serves: their clocks change at 02:00 or 03:00)."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

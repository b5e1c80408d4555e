"""A calendar month in the hub's time zone, and the UTC instants that bound it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from hub.errors import InputError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text.strip())
        if match is None:
            raise InputError(
                f"{text!r} is no month: write YYYY-MM, e.g. 2026-11", reason="invalid_month"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)

    def bounds(self, zone: ZoneInfo, start: date | None = None) -> tuple[datetime, datetime]:
        """``[start, end)`` in UTC: local midnight of ``start`` (default the 1st) to local
        midnight of the next month's first day."""
        return utc_midnight(start or self.first, zone), utc_midnight(self.next_first, zone)


def utc_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

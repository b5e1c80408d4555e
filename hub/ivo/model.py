"""The values of IVO reporting: one execution event, one tracked decision, one quarter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from hub.errors import InputError

EVENT_KINDS = (
    "decided",
    "executed",
    "partly_executed",
    "interrupted",
    "resumed",
    "declined_offer",
    "closed",
)


class ReportState(StrEnum):
    """Where a decision stands in a quarter's report (IVO's "not executed, executed, closed",
    with the not-executed split into the quarter's new cases and those reported before)."""

    NEW = "new"
    STILL_NOT_EXECUTED = "still_not_executed"
    EXECUTED = "executed"
    CLOSED = "closed"


@dataclass(frozen=True)
class Event:
    """One execution event as the tracking keeps it (no identity number: see ``Decision``)."""

    event_id: str
    kind: str
    on: date
    decision_date: date
    intervention: str | None = None
    part_not_executed: str | None = None
    offer_date: date | None = None
    offered: str | None = None
    delay_reason: str | None = None
    consequences: str | None = None
    interim_measures: str | None = None
    closing_reason: str | None = None
    referral_case_id: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown execution event kind {self.kind!r}")


@dataclass(frozen=True)
class Person:
    """What IVO may learn of the person: birth date, gender, protected identity and the code.

    ``gender`` is ``female``/``male`` or None when neither the event nor the identity number
    tells it; ``code`` is IVO's code (``hub.ivo.codes``), stable per person and district."""

    birth_date: date
    gender: str | None
    protected: bool | None
    code: str | None


@dataclass(frozen=True)
class Decision:
    """A tracked decision: its events in the order they arrived, and the person's facts."""

    district: str
    decision_id: str
    law: str
    person: Person
    events: tuple[Event, ...] = field(default=())

    @property
    def decision_date(self) -> date:
        """The ``decided`` event's date, else the decision date the newest event carries."""
        decided = [e for e in self.events if e.kind == "decided"]
        if decided:
            return decided[-1].on
        return self.events[-1].decision_date

    def latest(self, name: str, until: date) -> str | None:
        """The newest non-empty value of an event field among the events up to ``until``."""
        found: str | None = None
        for event in sorted(self.events, key=lambda e: e.on):
            value = getattr(event, name)
            if event.on <= until and value:
                found = str(value)
        return found


_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text.strip())
        if match is None:
            raise InputError(
                f"quarter {text!r} is not of the form YYYYQn, e.g. 2026Q4", reason="ivo_quarter"
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        if self.number == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.number + 1, 1) - timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

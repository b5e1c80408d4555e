"""The due rules of IVO reporting: pure functions of a decision's events and a quarter.

The duty (SoL 4 kap. 1 § granted assistance, LSS 9 § interventions; the references and the
period are settings, ``ivo_legal_references`` and ``ivo_period_months``):

- a decision not carried out when the period (three months) has passed since the decision is
  reported; so is an interruption not resumed when the period has passed since it began;
- the report is repeated every quarter until the decision is carried out or closed, and then
  a final report says executed (with the date) or closed (with the date and the reason);
- a partly carried-out decision is still waiting: it reports the part not carried out;
- a declined offer does not end the duty by itself: the offer is reported, nothing else;
- a ``closed`` event ends the duty at once (seed 003, section 3.10): a decision closed before
  its period ran out is never reported, one closed later gets one final report in the quarter
  of the closure and none after.

"The period has passed" is read as: the period ends at the end of the day ``start + months``
(calendar months; a day the target month lacks becomes its last day, so 30 November + 3 months
is 28 or 29 February); a decision carried out on that day or earlier was carried out in time.
Events are read as of the quarter's last day: later events belong to later quarters. Events of
one day are taken in the order a decision's life has them (decided first, closed last).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date

from hub.ivo.model import Decision, Event, Quarter, ReportState

_SAME_DAY_ORDER = {
    "decided": 0,
    "declined_offer": 1,
    "partly_executed": 2,
    "executed": 3,
    "interrupted": 4,
    "resumed": 5,
    "closed": 6,
}


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar months, clamped to the target month's last day.

    Written here because the standard library has no month arithmetic and this one rule (the
    clamp) is all the reporting needs; python-dateutil's ``relativedelta`` does the same."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass
class Waiting:
    """One stretch of time in which the decision waits to be carried out: from the decision
    (``interrupted_on`` None) or from an interruption, until ``ended_on`` (None: still open)."""

    since: date
    interrupted_on: date | None = None
    ended_on: date | None = None
    ended_by: str | None = None  # "executed" | "closed"
    partly_executed_on: date | None = None
    offers: list[tuple[date, str]] = field(default_factory=list)


def stretches(decision_date: date, events: list[Event]) -> list[Waiting]:
    """The waiting stretches of a decision, oldest first. Events that make no sense in the
    state the decision is in (a resumption without an interruption, an execution of an
    executed decision) change nothing."""
    current = Waiting(since=decision_date)
    out = [current]
    state = "waiting"
    for event in sorted(events, key=lambda e: (e.on, _SAME_DAY_ORDER[e.kind])):
        kind = event.kind
        if state == "closed":
            break
        if kind == "closed":
            if state == "waiting":
                current.ended_on, current.ended_by = event.on, "closed"
            state = "closed"
        elif state == "waiting":
            if kind == "declined_offer":
                current.offers.append((event.offer_date or event.on, event.offered or ""))
            elif kind == "partly_executed":
                current.partly_executed_on = event.on
            elif kind == "executed" or (kind == "resumed" and current.interrupted_on):
                current.ended_on, current.ended_by = event.on, "executed"
                state = "executed"
        elif kind == "interrupted":
            current = Waiting(since=event.on, interrupted_on=event.on)
            out.append(current)
            state = "waiting"
    return out


@dataclass(frozen=True)
class Due:
    """What a quarter's report says about one decision."""

    state: ReportState
    stretch: Waiting
    due_on: date

    @property
    def executed_on(self) -> date | None:
        return self.stretch.ended_on if self.stretch.ended_by == "executed" else None

    @property
    def closed_on(self) -> date | None:
        return self.stretch.ended_on if self.stretch.ended_by == "closed" else None


def report_for(decision: Decision, quarter: Quarter, months: int) -> Due | None:
    """The decision's individual report in ``quarter``, or None if none is due."""
    known = [e for e in decision.events if e.on <= quarter.end]
    if not known:
        return None
    found: Due | None = None
    for stretch in stretches(decision.decision_date, known):
        due_on = add_months(stretch.since, months)
        if stretch.ended_on is not None and stretch.ended_on <= due_on:
            continue  # carried out (or closed) within the period: nothing to report
        if due_on > quarter.end:
            continue  # the period has not run out within this quarter
        if stretch.ended_on is None:
            state = ReportState.NEW if due_on >= quarter.start else ReportState.STILL_NOT_EXECUTED
        elif stretch.ended_on < quarter.start:
            continue  # its final report belonged to an earlier quarter
        elif stretch.ended_by == "closed":
            state = ReportState.CLOSED
        else:
            state = ReportState.EXECUTED
        found = Due(state, stretch, due_on)
    return found

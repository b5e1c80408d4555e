"""The IVO due rules at their exact boundaries (hub.ivo.due)."""

from __future__ import annotations

from datetime import date

import pytest

from hub.ivo.due import add_months, report_for
from hub.ivo.model import Decision, Event, Person, Quarter, ReportState

PERSON = Person(birth_date=date(1938, 2, 15), gender="female", protected=False, code=None)


def decision(decided: date, *events: tuple[str, date], **extra: object) -> Decision:
    made = [Event("E0", "decided", decided, decided)]
    for i, (kind, on) in enumerate(events, start=1):
        fields: dict[str, object] = {}
        if kind == "declined_offer":
            fields = {"offer_date": on, "offered": "plats på Exempelgården"}
        made.append(Event(f"E{i}", kind, on, decided, **fields))  # type: ignore[arg-type]
    return Decision("sdn-test", "B-1", "SoL", PERSON, tuple(made))


def state(d: Decision, quarter: str) -> ReportState | None:
    due = report_for(d, Quarter.parse(quarter), 3)
    return due.state if due else None


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 11, 30), date(2027, 2, 28)),  # no 30 February: the month's last day
        (date(2027, 11, 30), date(2028, 2, 29)),  # leap year
        (date(2027, 11, 29), date(2028, 2, 29)),
        (date(2026, 11, 29), date(2027, 2, 28)),
        (date(2026, 5, 31), date(2026, 8, 31)),
        (date(2026, 3, 31), date(2026, 6, 30)),  # 31st of a month into a 30-day month
        (date(2026, 12, 31), date(2027, 3, 31)),  # across the year
        (date(2028, 2, 29), date(2028, 5, 29)),
    ],
)
def test_three_months_from_a_day(start: date, expected: date) -> None:
    assert add_months(start, 3) == expected


def test_a_decision_of_30_november_is_due_at_the_end_of_february() -> None:
    d = decision(date(2026, 11, 30))
    assert state(d, "2026Q4") is None
    due = report_for(d, Quarter.parse("2027Q1"), 3)
    assert due is not None
    assert due.due_on == date(2027, 2, 28)
    assert due.state is ReportState.NEW
    assert state(d, "2027Q2") is ReportState.STILL_NOT_EXECUTED
    assert state(d, "2027Q3") is ReportState.STILL_NOT_EXECUTED


def test_executed_on_the_last_day_is_in_time_and_one_day_later_is_not() -> None:
    in_time = decision(date(2026, 11, 30), ("executed", date(2027, 2, 28)))
    late = decision(date(2026, 11, 30), ("executed", date(2027, 3, 1)))
    assert state(in_time, "2027Q1") is None
    due = report_for(late, Quarter.parse("2027Q1"), 3)
    assert due is not None
    assert due.state is ReportState.EXECUTED
    assert due.executed_on == date(2027, 3, 1)
    assert state(late, "2027Q2") is None  # the final report was made


def test_leap_year_boundary() -> None:
    d = decision(date(2027, 11, 30), ("executed", date(2028, 2, 29)))
    assert state(d, "2028Q1") is None
    d = decision(date(2027, 11, 30), ("executed", date(2028, 3, 1)))
    assert state(d, "2028Q1") is ReportState.EXECUTED


def test_a_decision_of_the_31st_due_on_the_last_day_of_the_quarter() -> None:
    d = decision(date(2026, 12, 31))
    due = report_for(d, Quarter.parse("2027Q1"), 3)
    assert due is not None
    assert due.due_on == date(2027, 3, 31)
    assert due.state is ReportState.NEW


def test_executed_after_reports_gives_one_final_report_with_the_date() -> None:
    d = decision(date(2026, 6, 10), ("executed", date(2027, 1, 20)))
    assert state(d, "2026Q3") is ReportState.NEW
    assert state(d, "2026Q4") is ReportState.STILL_NOT_EXECUTED
    due = report_for(d, Quarter.parse("2027Q1"), 3)
    assert due is not None
    assert due.state is ReportState.EXECUTED
    assert due.executed_on == date(2027, 1, 20)
    assert state(d, "2027Q2") is None


def test_an_interruption_resumed_within_three_months_is_not_reported() -> None:
    d = decision(
        date(2026, 1, 10),
        ("executed", date(2026, 2, 1)),
        ("interrupted", date(2026, 5, 15)),
        ("resumed", date(2026, 8, 15)),  # the last day of the period
    )
    for quarter in ("2026Q1", "2026Q2", "2026Q3", "2026Q4"):
        assert state(d, quarter) is None


def test_an_interruption_not_resumed_within_three_months_counts_from_the_interruption() -> None:
    d = decision(
        date(2026, 1, 10),
        ("executed", date(2026, 2, 1)),
        ("interrupted", date(2026, 5, 15)),
        ("resumed", date(2026, 8, 16)),  # one day late
    )
    due = report_for(d, Quarter.parse("2026Q3"), 3)
    assert due is not None
    assert due.state is ReportState.EXECUTED
    assert due.stretch.interrupted_on == date(2026, 5, 15)
    assert due.due_on == date(2026, 8, 15)
    assert due.executed_on == date(2026, 8, 16)


def test_an_interruption_still_open_is_reported_every_quarter() -> None:
    d = decision(
        date(2026, 1, 10), ("executed", date(2026, 2, 1)), ("interrupted", date(2026, 9, 20))
    )
    assert state(d, "2026Q3") is None
    assert state(d, "2026Q4") is ReportState.NEW  # due 20 December
    assert state(d, "2027Q1") is ReportState.STILL_NOT_EXECUTED


def test_a_partly_executed_decision_is_still_reported_with_its_partial_date() -> None:
    d = decision(date(2026, 1, 15), ("partly_executed", date(2026, 2, 1)))
    due = report_for(d, Quarter.parse("2026Q2"), 3)
    assert due is not None
    assert due.state is ReportState.NEW
    assert due.stretch.partly_executed_on == date(2026, 2, 1)
    d2 = decision(
        date(2026, 1, 15), ("partly_executed", date(2026, 2, 1)), ("executed", date(2026, 4, 15))
    )
    assert state(d2, "2026Q2") is None  # fully carried out within three months


def test_a_declined_offer_does_not_end_the_duty() -> None:
    d = decision(date(2026, 1, 15), ("declined_offer", date(2026, 3, 1)))
    due = report_for(d, Quarter.parse("2026Q2"), 3)
    assert due is not None
    assert due.state is ReportState.NEW
    assert due.stretch.offers == [(date(2026, 3, 1), "plats på Exempelgården")]
    assert state(d, "2026Q3") is ReportState.STILL_NOT_EXECUTED


def test_closed_in_the_middle_of_a_quarter_reports_once_and_stops() -> None:
    d = decision(date(2026, 1, 15), ("closed", date(2026, 8, 14)))
    assert state(d, "2026Q2") is ReportState.NEW
    due = report_for(d, Quarter.parse("2026Q3"), 3)
    assert due is not None
    assert due.state is ReportState.CLOSED
    assert due.closed_on == date(2026, 8, 14)
    assert state(d, "2026Q4") is None


def test_closed_before_the_period_ran_out_is_never_reported() -> None:
    d = decision(date(2026, 1, 15), ("closed", date(2026, 4, 15)))  # the last day
    for quarter in ("2026Q1", "2026Q2", "2026Q3"):
        assert state(d, quarter) is None


def test_nothing_after_a_closure_counts() -> None:
    d = decision(date(2026, 1, 15), ("closed", date(2026, 5, 1)), ("interrupted", date(2026, 6, 1)))
    assert state(d, "2026Q2") is ReportState.CLOSED
    assert state(d, "2026Q3") is None


def test_events_after_the_quarter_do_not_change_it() -> None:
    d = decision(date(2026, 1, 15), ("executed", date(2026, 7, 2)))
    assert state(d, "2026Q2") is ReportState.NEW
    assert state(d, "2026Q3") is ReportState.EXECUTED


def test_the_period_is_configuration() -> None:
    d = decision(date(2026, 1, 15))
    assert report_for(d, Quarter.parse("2026Q1"), 1) is not None
    assert report_for(d, Quarter.parse("2026Q1"), 3) is None


@pytest.mark.parametrize("text", ["2026", "2026Q5", "26Q1", "Q1-2026", ""])
def test_a_quarter_must_be_named_as_yyyyqn(text: str) -> None:
    from hub.errors import InputError

    with pytest.raises(InputError):
        Quarter.parse(text)


def test_quarter_bounds() -> None:
    assert Quarter.parse("2026Q4").start == date(2026, 10, 1)
    assert Quarter.parse("2026q4").end == date(2026, 12, 31)
    assert Quarter.parse("2028Q1").end == date(2028, 3, 31)
    assert Quarter.of(date(2026, 6, 30)) == Quarter(2026, 2)

"""What the payment check makes of one employment's reports (``hub.atl.hold.violations_of``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.atl.config import ATL, DOMESTIC, LAW_DEFAULTS
from hub.atl.hold import violations_of
from hub.atl.reading import reach
from hub.atl.rules import Shift
from hub.atl.shifts import ShiftReport, read_report, report_xml
from hub.demo.atl_world import clean_month, short_rest_month

NOV = (date(2026, 11, 1), date(2026, 11, 30))


def _report(shifts: list[Shift], rule_set: str = ATL) -> ShiftReport:
    body = report_xml(
        report_id="R-1", provider="5590001234", assistant="A-1", client="191212121212",
        period="2026-11", shifts=shifts, rule_set=rule_set,
    )  # fmt: skip
    return read_report(body)


def test_a_report_reads_back_as_it_was_written() -> None:
    shifts = short_rest_month(2026, 11)
    report = _report(shifts)
    assert (report.provider, report.assistant, report.period) == ("5590001234", "A-1", "2026-11")
    assert sorted(report.shifts, key=lambda s: s.start) == sorted(shifts, key=lambda s: s.start)


def test_each_rule_set_checks_its_own_shifts_and_an_unknown_one_holds() -> None:
    assert violations_of([_report(clean_month(2026, 11))], LAW_DEFAULTS, NOV) == []
    (v,) = violations_of([_report(short_rest_month(2026, 11))], LAW_DEFAULTS, NOV)
    assert (v["rule"], v["hours"], v["limit"]) == ("daily_rest", 10.0, 11)
    # The domestic-work act's shipped set has no daily rest rule (not verified, not guessed).
    assert violations_of([_report(short_rest_month(2026, 11), DOMESTIC)], LAW_DEFAULTS, NOV) == []
    (unknown,) = violations_of([_report(clean_month(2026, 11), "ab-x")], LAW_DEFAULTS, NOV)
    assert unknown["rule"] == "unknown_rule_set"


def test_a_shift_that_ends_before_it_starts_holds_the_payment() -> None:
    start = datetime(2026, 11, 3, 8, tzinfo=ZoneInfo("Europe/Stockholm"))
    backwards = Shift(start, start - timedelta(hours=1))
    found = violations_of([_report([*clean_month(2026, 11), backwards])], LAW_DEFAULTS, NOV)
    assert [v["rule"] for v in found] == ["shift_invalid"]


def test_a_check_reads_the_twelve_months_its_windows_reach_back() -> None:
    assert reach(date(2026, 11, 1), date(2026, 11, 30)) == ["2025-12"] + [
        f"2026-{m:02d}" for m in range(1, 12)
    ]
    assert reach(date(2026, 1, 1), date(2026, 2, 28))[0] == "2025-02"
    assert reach(date(2026, 1, 1), date(2026, 2, 28))[-1] == "2026-02"

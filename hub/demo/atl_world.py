"""The working-time check's small world: an assistance provider's app, its agreement, its route,
and months of shifts that keep or break the rules (tests, demo and bench use the same).

Fictional throughout: the provider's organisation number and the assistants' employee ids
identify no one; the clients are ``hub.demo.fictional`` people.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.model import Agreement
from hub.atl.rules import Kind, Shift
from hub.atl.shifts import TYPE, report_xml
from hub.demo.scenario import _common

ASSISTANCE_APP = "assistans-appen"  # the assistance provider's time app (a registered system)
PROVIDER = "5590001234"  # Fiktiva Assistans AB (fictional organisation number)
SHIFT_ARCHIVE = "assistance-case"  # where the shift reports go: the compensation case system
PURPOSE = "assistance_time_reporting"
ZONE = ZoneInfo("Europe/Stockholm")


def atl_agreement(now: datetime, district: str) -> Agreement:
    return Agreement(
        id=f"PUB-{district.removeprefix('sdn-').upper()}-ASSISTANCE-TIME",
        version=1,
        processor=ASSISTANCE_APP,
        senders=frozenset({ASSISTANCE_APP}),
        recipients=frozenset({SHIFT_ARCHIVE}),
        purposes=frozenset({PURPOSE}),
        message_types=frozenset({TYPE}),
        categories=frozenset({"identity", "time"}),
        consent_required=frozenset(),
        **_common(now, district, 300),  # type: ignore[arg-type]
    )


def month_days(year: int, month: int) -> Iterator[date]:
    day = date(year, month, 1)
    while day.month == month:
        yield day
        day += timedelta(days=1)


def clean_month(year: int, month: int) -> list[Shift]:
    """Weekdays 08:00-16:30 with a 30-minute break at noon: 40 h a week, every rule kept."""
    out = []
    for day in month_days(year, month):
        if day.weekday() >= 5:
            continue
        start = datetime(day.year, day.month, day.day, 8, tzinfo=ZONE)
        lunch = start + timedelta(hours=4)
        out.append(
            Shift(
                start,
                start + timedelta(hours=8, minutes=30),
                Kind.ORDINARY,
                ((lunch, lunch + timedelta(minutes=30)),),
            )
        )
    return out


def short_rest_month(year: int, month: int) -> list[Shift]:
    """The clean month with one late evening (to 22:00 on the second Tuesday) that leaves 10
    hours before the next morning: daily rest broken (11 h, arbetstidslagen 13 §)."""
    shifts = clean_month(year, month)
    tuesdays = [s for s in shifts if s.start.weekday() == 1]
    late = tuesdays[1]
    evening = late.start.replace(hour=17)
    extra = Shift(
        evening,
        late.start.replace(hour=22),
        Kind.OVERTIME,
        ((evening + timedelta(hours=2), evening + timedelta(hours=2, minutes=30)),),
    )
    return [*shifts, extra]


def shift_report(
    *, assistant: str, client: str, period: str, shifts: list[Shift], report_id: str
) -> bytes:
    return report_xml(
        report_id=report_id,
        provider=PROVIDER,
        assistant=assistant,
        client=client,
        period=period,
        shifts=shifts,
    )


def payment_for(body: bytes, period: tuple[date, date]) -> bytes:
    """A ``finance.payment`` body (``hub.demo.flows.payment_body``) moved to ``period``."""
    start = body.index(b"<Period>")
    end = body.index(b"</Period>") + len(b"</Period>")
    period_xml = f"<Period><From>{period[0]}</From><To>{period[1]}</To></Period>".encode()
    return body[:start] + period_xml + body[end:]

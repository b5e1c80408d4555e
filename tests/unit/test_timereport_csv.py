"""Reading a provider's CSV export: the columns, local times, lines of bad rows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from hub.demo.fictional import FictionalPeople
from hub.errors import InputError
from hub.timereports.checks import Finding
from hub.timereports.csv_import import read_rows
from hub.timereports.incoming import from_row
from hub.timereports.model import Visit

ZONE = ZoneInfo("Europe/Stockholm")
NUMBER = FictionalPeople(5, kind="personnummer").take(1)[0].identity.formatted()
HEADER = (
    "visit_id,staff_id,second_staff_id,client,client_scheme,order_id,interventions,"
    "planned_start,planned_end,actual_start,actual_end,confirmation"
)


def row(**changes: str) -> str:
    values = {
        "visit_id": "v-1", "staff_id": "st-1", "second_staff_id": "", "client": NUMBER,
        "client_scheme": "", "order_id": "B-1", "interventions": "personal_care:20|meal",
        "planned_start": "", "planned_end": "", "actual_start": "2026-12-02 08:00",
        "actual_end": "2026-12-02T08:30:00+01:00", "confirmation": "rfid_tag",
    }  # fmt: skip
    values.update(changes)
    return ",".join(values.values())


def converted(text: str) -> list[Visit | Finding]:
    return [from_row(r, i, line) for i, (line, r) in enumerate(read_rows(text, ZONE))]


def test_a_row_becomes_a_visit_with_local_times_and_interventions() -> None:
    (v,) = converted(f"{HEADER}\n{row()}\n")
    assert isinstance(v, Visit)
    assert v.actual_start.isoformat() == "2026-12-02T08:00:00+01:00"
    assert [(i.code, i.minutes) for i in v.interventions] == [("personal_care", 20), ("meal", None)]
    assert (v.line, v.where, v.client.formatted()) == (2, "line 2", NUMBER)


def test_semicolons_and_a_byte_order_mark() -> None:
    text = "\ufeff" + HEADER.replace(",", ";") + "\n" + row().replace(",", ";")
    assert isinstance(converted(text)[0], Visit)


def test_bad_rows_are_named_by_their_line() -> None:
    text = "\n".join(
        [
            HEADER,
            row(),
            row(staff_id="191212121212"),
            row(confirmation="bluetooth"),
            row(client="19121212-1213"),
            row(planned_start="2026-12-02 08:00"),
        ]
    )
    found = [(f.line, f.reason) for f in converted(text) if isinstance(f, Finding)]
    assert found == [
        (3, "staff_id_invalid"),
        (4, "confirmation_invalid"),
        (5, "invalid_identity_number"),
        (6, "planned_incomplete"),
    ]


@pytest.mark.parametrize(
    ("header", "said"),
    [("visit_id,staff_id", "missing"), (HEADER + ",colour", "unknown colour")],
)
def test_a_header_that_does_not_fit_is_refused_at_line_1(header: str, said: str) -> None:
    with pytest.raises(InputError) as info:
        converted(f"{header}\n")
    assert info.value.reason == "csv_invalid"
    assert "line 1" in info.value.detail
    assert said in info.value.detail

"""The case system's summary in IVO reporting (pure): the map of service codes, what a summary
says of a decision, the disagreements with the events, and the row built from both."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hub.errors import ConfigError
from hub.ivo.due import report_for
from hub.ivo.model import Decision, Event, Person, Quarter
from hub.ivo.state import Tracked, dump, load
from hub.ivo.summary import (
    Summary,
    disagreements,
    events_state,
    intervention_for,
    parse_intervention_map,
    summary_of,
)
from hub.ivo.worklist import Reporter, Row, build_row, csv_values, report_body

MAP = parse_intervention_map(
    "SoL:home_care=sol_home_care; LSS:personal_assistance=lss_personal_assistance; "
    "short_term_stay=sol_short_stay; LSS:short_term_stay=lss_short_stay"
)
REPORTER = Reporter("Exempelstad kommun", "Vård- och omsorgsnämnden", (), MAP)
Q = Quarter.parse("2026Q2")
DECIDED = date(2025, 11, 30)
READ = date(2026, 6, 1)


def decision(*events: Event, law: str = "SoL") -> Decision:
    person = Person(date(1938, 2, 15), "female", False, "19380215-T124")
    return Decision("sdn-x", "B-1", law, person, events)


def event(kind: str, on: date, **fields: str) -> Event:
    return Event(f"E-{kind}-{on}", kind, on, DECIDED, **fields)  # type: ignore[arg-type]


WAITING = decision(event("decided", DECIDED, delay_reason="Ingen plats.", consequences="Väntar."))


def listed(**fields: object) -> Summary:
    base = {"law": "SoL", "service_code": "home_care", "decision_date": DECIDED}
    return Summary(READ, True, **{**base, "execution_state": "pending", **fields})  # type: ignore[arg-type]


def test_the_map_narrows_by_law_and_refuses_what_it_cannot_be_sure_of() -> None:
    assert intervention_for(MAP, "SoL", "home_care") == "sol_home_care"
    assert intervention_for(MAP, "LSS", "home_care") is None  # only SoL's home_care is mapped
    assert intervention_for(MAP, "SoL", "short_term_stay") == "sol_short_stay"
    assert intervention_for(MAP, "LSS", "short_term_stay") == "lss_short_stay"  # narrower wins
    assert intervention_for(MAP, "SoL", "safety_alarm") is None
    assert intervention_for(parse_intervention_map("x=sol_other"), "LSS", "x") is None
    assert parse_intervention_map("") == {}


@pytest.mark.parametrize(
    "bad",
    ["home_care", "HSL:home_care=sol_home_care", "home_care=hemtjanst", "=sol_home_care",
     "a=sol_other; a=sol_home_care", "LSS:home_care=sol_home_care"],
)  # fmt: skip
def test_a_bad_map_entry_names_itself(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_intervention_map(bad)
    assert caught.value.context["key"] == "ivo_intervention_map"


def test_a_summary_keeps_the_decision_and_drops_the_rest() -> None:
    answer = {
        "found": True,
        "name": "Fiktiv Person",
        "decisions": [
            {"decision_id": "B-0", "law": "LSS", "service": {"code": "x"}},
            {"decision_id": "B-1", "law": "SoL", "service": {"code": "home_care"},
             "decision_date": "2025-11-30", "execution_state": "pending"},
        ],
        "case_officer": {"id": "hl-1", "name": "Handla Läggarsson"},
    }  # fmt: skip
    got = summary_of(answer, "B-1", READ)
    assert got == listed()
    assert "Läggarsson" not in str(got.to_json())
    assert "Fiktiv" not in str(got.to_json())
    assert Summary.from_json(got.to_json()) == got
    assert summary_of(answer, "B-9", READ) == Summary(READ, False)
    assert summary_of({"found": False}, "B-1", READ) == Summary(READ, False)


def test_the_events_state_in_the_contracts_words() -> None:
    assert events_state(WAITING, READ) == "pending"
    executed = replace(WAITING, events=(*WAITING.events, event("executed", date(2026, 5, 4))))
    assert events_state(executed, date(2026, 5, 3)) == "pending"
    assert events_state(executed, date(2026, 5, 4)) == "executed"
    paused = replace(executed, events=(*executed.events, event("interrupted", date(2026, 5, 20))))
    assert events_state(paused, READ) == "interrupted"
    closed = replace(paused, events=(*paused.events, event("closed", date(2026, 5, 30))))
    assert events_state(closed, READ) == "closed"


def test_agreement_says_nothing_and_each_disagreement_is_named() -> None:
    assert disagreements(WAITING, listed(), "sol_home_care", None) == ()
    assert disagreements(WAITING, listed(), "sol_home_care", "sol_home_care") == ()
    said = disagreements(
        WAITING,
        listed(law="LSS", decision_date=date(2025, 12, 1), execution_state="executed"),
        "sol_home_care",
        "sol_short_stay",
    )
    assert [s.split(":")[0] for s in said] == [
        "law", "decision date", "intervention", f"state on {READ}"
    ]  # fmt: skip
    assert "the case system says executed, the events say pending" in said[3]
    assert disagreements(WAITING, Summary(READ, False), None, None) == (
        f"the case system's summary of {READ} does not list decision B-1",
    )


def row_for(d: Decision, summary: Summary | None) -> Row:
    due = report_for(d, Q, 3)
    assert due is not None
    return build_row(d, due, Q, REPORTER, summary)


def test_the_summary_fills_the_intervention_the_events_did_not_send() -> None:
    without = row_for(WAITING, None)
    assert without.missing == ("Intervention",)
    row = row_for(WAITING, listed())
    assert row.intervention == "sol_home_care"
    assert row.complete
    assert not row.notes
    assert b"<Intervention>sol_home_care</Intervention>" in report_body(row)


def test_an_unmapped_code_stays_missing_and_says_which() -> None:
    row = row_for(WAITING, listed(service_code="safety_alarm"))
    assert row.missing == ("Intervention",)
    assert "safety_alarm (SoL)" in row.notes[0]
    assert "ivo_intervention_map" in csv_values(row)["notes"]


def test_a_disagreement_holds_the_row_back_for_the_officer() -> None:
    row = row_for(WAITING, listed(execution_state="executed"))
    assert not row.missing
    assert row.disagreements
    assert not row.complete
    assert "executed" in csv_values(row)["disagreements"]
    with pytest.raises(ValueError, match="1 disagreements"):
        report_body(row)


def test_the_summary_is_sealed_with_the_state_and_read_back() -> None:
    tracked = Tracked(WAITING, "se", "19380215-1234", listed())
    assert load(dump(tracked)) == tracked
    plain = Tracked(WAITING, "se", "19380215-1234")
    assert b"summary" not in dump(plain)  # the same bytes as before summaries existed
    assert load(dump(plain)).summary is None


def test_an_unknown_protected_identity_is_said_not_silently_no() -> None:
    unknown = replace(WAITING, person=replace(WAITING.person, protected=None))
    row = row_for(unknown, listed())
    assert row.protected is False
    assert any("protected identity" in note for note in row.notes)
    assert row.complete  # a note, not a block: v1 events never say it

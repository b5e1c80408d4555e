"""The pure pieces of IVO reporting: codes, legal references, events, sealed state, rows."""

from __future__ import annotations

import random
from datetime import date

import pytest

from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import LIVES, decision_life
from hub.errors import ConfigError
from hub.ingest.identity import parse_identity
from hub.ivo.codes import code_gender, gender_of, ivo_code
from hub.ivo.due import report_for
from hub.ivo.events import read_event
from hub.ivo.legal import parse_references, reference_for
from hub.ivo.model import Decision, Event, Person, Quarter, ReportState
from hub.ivo.state import Tracked, dump, load
from hub.ivo.worklist import PROTECTED_TEXT, Reporter, build_row, report_body
from schemas.parser import parse_xml
from schemas.registry import default_registry

Q3 = Quarter.parse("2026Q3")
REPORTER = Reporter("Exempelstad kommun", "Vård- och omsorgsnämnden", parse_references(
    "SoL=4 kap. 1 § SoL (2001:453); SoL@2025-07-01=SoL (2025:400); LSS=9 § LSS"))  # fmt: skip


@pytest.mark.parametrize("number", [0, 1, 499, 500, 12345, 2**63])
def test_a_code_carries_birth_date_and_gender_parity(number: int) -> None:
    born = date(1938, 2, 15)
    woman, man = ivo_code(born, "female", True, number), ivo_code(born, "male", True, number)
    assert woman.startswith("19380215-T")
    assert len(woman) == len("19380215-T123")
    assert int(woman[-1]) % 2 == 0
    assert int(man[-1]) % 2 == 1
    assert code_gender(woman) == "female"
    assert code_gender(man) == "male"
    short = ivo_code(born, "male", False, number)
    assert short.startswith("19380215-TF")
    assert len(short) == len("19380215-TF12")
    assert int(short[-1]) % 2 == 1


def test_the_gender_of_an_identity_number() -> None:
    for person in FictionalPeople(1).take(50):
        digit = person.identity.canonical[10 if person.identity.scheme == "se" else 9]
        assert gender_of(person.identity) == ("female" if int(digit) % 2 == 0 else "male")


def test_legal_references_by_decision_date() -> None:
    refs = REPORTER.references
    assert reference_for(refs, "SoL", date(2025, 6, 30)) == "4 kap. 1 § SoL (2001:453)"
    assert reference_for(refs, "SoL", date(2025, 7, 1)) == "SoL (2025:400)"
    assert reference_for(refs, "LSS", date(2020, 1, 1)) == "9 § LSS"
    assert reference_for(parse_references(""), "LSS", date(2020, 1, 1)) is None


@pytest.mark.parametrize("bad", ["SoL", "HSL=x", "SoL@2025-13-01=x", "LSS="])
def test_a_bad_legal_reference_names_itself(bad: str) -> None:
    with pytest.raises(ConfigError, match="ivo_legal_references"):
        parse_references(bad)


def _decision(person_index: int, life: str) -> tuple[Decision, Tracked]:
    person = FictionalPeople(4, kind="personnummer").take(person_index + 1)[-1]
    rng = random.Random(person_index)
    events = decision_life(person, rng, Q3, decision_id=f"B-{person_index}", life=life)
    reads = [read_event(e.body, "2") for e in events]
    first = reads[0]
    identity = parse_identity(first.subject, first.scheme)
    gender = gender_of(identity)
    decision = Decision(
        district="sdn-test",
        decision_id=first.decision_id,
        law=first.law,
        person=Person(identity.birth_date, gender, False, ivo_code(identity.birth_date, gender,
                                                                   True, 7)),
        events=tuple(r.event for r in reads),
    )  # fmt: skip
    return decision, Tracked(decision, first.scheme, first.subject)


def test_the_sealed_state_round_trips() -> None:
    for i, life in enumerate(LIVES):
        _, tracked = _decision(i, life)
        assert load(dump(tracked)) == tracked


@pytest.mark.parametrize("life", sorted(set(LIVES) - {"in_time"}))
def test_each_due_life_gives_a_valid_report_or_names_what_is_missing(life: str) -> None:
    registry = default_registry()
    report_type = registry.get("ivo.individual_report", "1")
    for i in range(12):
        decision, tracked = _decision(i, life)
        due = report_for(decision, Q3, 3)
        if due is None:
            continue  # e.g. carried out late but before the quarter: reported earlier
        row = build_row(decision, due, Q3, REPORTER)
        if life == "waiting_unexplained":
            assert row.missing == ("DelayReason", "Consequences")
            with pytest.raises(ValueError, match="misses"):
                report_body(row)
            continue
        assert row.complete, row.missing
        body = report_body(row)
        registry.validate(report_type, parse_xml(body))
        assert tracked.subject.encode() not in body
        assert identity_digits(tracked.subject) not in body.decode()
        if life == "closed_by_person":
            assert row.state in (ReportState.CLOSED, ReportState.NEW)
        if life == "partly_executed":
            assert row.details is not None
            assert "Ledsagning" in row.details


def identity_digits(subject: str) -> str:
    return subject.replace("-", "")[-10:]


def test_protected_identity_is_stated_in_the_free_text_not_in_the_body() -> None:
    decision, _ = _decision(0, "waiting")
    protected = Decision(
        decision.district, decision.decision_id, decision.law,
        Person(decision.person.birth_date, decision.person.gender, True, decision.person.code),
        decision.events,
    )  # fmt: skip
    due = report_for(protected, Q3, 3)
    assert due is not None
    row = build_row(protected, due, Q3, REPORTER)
    assert row.free_text == PROTECTED_TEXT
    body = report_body(row)
    assert b"<ProtectedIdentity>true</ProtectedIdentity>" in body
    assert PROTECTED_TEXT.encode() not in body  # the robot writes IVO's notice itself


def test_a_version_1_event_is_read_with_what_it_has() -> None:
    body = (
        b'<ExecutionEvent xmlns="urn:omsorgshub:case.execution_event:1"><EventId>E1</EventId>'
        b"<DecisionId>B-1</DecisionId><Subject>19121212-1212</Subject><Law>SoL</Law>"
        b"<EventKind>closed</EventKind><EventDate>2026-05-02</EventDate>"
        b"<DecisionDate>2026-01-10</DecisionDate><Note>Avslutad av den enskilde.</Note>"
        b"</ExecutionEvent>"
    )
    read = read_event(body, "1")
    assert read.event == Event("E1", "closed", date(2026, 5, 2), date(2026, 1, 10),
                               note="Avslutad av den enskilde.")  # fmt: skip
    assert read.gender is None
    assert read.protected is None
    assert read.scheme == "se"
    person = Person(date(1912, 12, 12), "male", None, "19121212-T001")
    decision = Decision("sdn-test", "B-1", "SoL", person, (read.event,))
    q2 = Quarter.parse("2026Q2")
    due = report_for(decision, q2, 3)
    assert due is not None
    row = build_row(decision, due, q2, REPORTER)
    assert row.state is ReportState.CLOSED
    assert row.closing_reason == "Avslutad av den enskilde."
    assert row.missing == ("Intervention",)  # version 1 does not carry it: never invented


def test_the_pdf_holds_every_report_and_marks_what_is_missing() -> None:
    import re
    import zlib

    from hub.ivo.pdf import worklist_pdf

    rows = []
    for i, life in enumerate(("waiting", "waiting_unexplained", "closed_by_person")):
        decision, _ = _decision(i, life)
        due = report_for(decision, Q3, 3)
        if due is not None:
            rows.append(build_row(decision, due, Q3, REPORTER))
    pdf = worklist_pdf("IVO individual reports 2026Q3, sdn-test", rows)
    text = b"".join(
        zlib.decompress(stream)
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
        if stream[:1] == b"x"
    ).decode("latin-1")
    for row in rows:
        assert row.reference in text
        assert row.code in text
    assert [r.missing for r in rows if r.missing] == [("DelayReason", "Consequences")]
    assert text.count("MISSING: DelayReason, Consequences") == 1

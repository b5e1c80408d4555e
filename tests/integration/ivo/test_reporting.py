"""IVO reporting in one process on a real database: events in through ingest, tracking,
the worklist (CSV, PDF), the submission through the hub's own ingest, and their guards."""

from __future__ import annotations

import csv
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, FictionalPerson
from hub.demo.ivo_events import decision_life, event_envelope, ivo_agreements
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.errors import ContractRefusal
from hub.ivo.model import Quarter
from hub.services.agreements import add_agreements
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.ivo_reports import build_worklist, submit_reports
from hub.services.ivo_tracking import track_events
from hub.services.principal import Principal
from hub.storage.tables import ivo_decisions, messages
from tests.integration.spine import Clock

DISTRICT = "sdn-sodermalm"
APP = "lifecare"
QUARTER = "2026Q3"
OPERATOR = Principal.operator("operator:ivo-test")
CODE = re.compile(r"^\d{8}-(T\d{3}|TF\d{2})$")


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    double = HttpDouble()
    double.start()
    sandbox = Sandbox(
        tmp_path / "hub",
        database_url=database_url,
        overrides={
            "ivo_municipality": "Exempelstads kommun",
            "ivo_administrations": "*=Vård- och omsorgsnämnden (fiktiv)",
        },
    )
    spec = DestinationSpec("http", {"url": double.url, "timeout": 2})
    sandbox.write_routes(
        {"case-sodermalm": spec, "ivo": spec},
        [
            ("case.execution_event", DISTRICT, ["case-sodermalm"]),
            ("ivo.individual_report", DISTRICT, ["ivo"]),
        ],
    )
    built = sandbox.open(clock=Clock())
    yield built
    built.close()
    double.stop()


def allow(hub: Hub) -> None:
    add_agreements(
        hub,
        ivo_agreements(
            hub.clock(), DISTRICT, execution_app=APP, event_recipient="case-sodermalm",
            hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
        ),
        "test",
    )  # fmt: skip


def send_events(hub: Hub, count: int, seed: int = 3) -> dict[str, FictionalPerson]:
    rng = random.Random(seed)
    people = FictionalPeople(seed).take(count)
    sent: dict[str, FictionalPerson] = {}
    for i, person in enumerate(people):
        decision_id = f"B-{seed}-{i:05d}"
        for event in decision_life(person, rng, Quarter.parse(QUARTER), decision_id=decision_id):
            hub.ingestor.ingest(APP, event_envelope(person, DISTRICT, event))
        sent[decision_id] = person
    return sent


def test_events_are_tracked_once_and_sealed(hub: Hub) -> None:
    allow(hub)
    people = send_events(hub, 30)
    first = track_events(hub, OPERATOR, batch=7)  # a decision's events across batches
    assert first.applied > 30
    assert first.decisions == 30
    assert first.refused == first.skipped == 0
    again = track_events(hub, OPERATOR)
    assert again.applied == again.decisions == 0
    with hub.reader.connect() as conn:
        rows = conn.execute(select(ivo_decisions)).all()
    assert len(rows) == 30
    for row in rows:
        person = people[row.decision_id]
        sealed = bytes(row.ciphertext)
        assert person.identity.canonical.encode() not in sealed
        assert person.identity.formatted().encode() not in sealed
        assert str(person.identity.birth_date).encode() not in sealed


def test_the_worklist_lists_every_due_decision_without_identity_numbers(
    hub: Hub, tmp_path: Path
) -> None:
    allow(hub)
    people = send_events(hub, 60)
    worklist = build_worklist(hub, OPERATOR, DISTRICT, QUARTER, out_dir=tmp_path / "out")
    rows = worklist.rows
    assert rows
    assert sum(worklist.counts.values()) == len(rows)
    assert all(worklist.counts[k] > 0 for k in ("new", "still_not_executed", "closed"))
    csv_path, pdf_path = worklist.files
    with csv_path.open(encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [r["reference"] for r in table] == [r.reference for r in rows]
    text = csv_path.read_text(encoding="utf-8")
    assert pdf_path.read_bytes().startswith(b"%PDF")
    for row in rows:
        person = people[row.decision_id]
        assert person.identity.formatted() not in text
        assert CODE.match(row.code)
        assert row.code.startswith(f"{person.identity.birth_date:%Y%m%d}-")
        assert (int(row.code[-1]) % 2 == 0) == (row.gender == "female")
        tf = person.identity.kind != "personnummer"
        assert ("-TF" in row.code) == tf
    missing = [r for r in rows if r.missing]
    assert missing, "the fictional lives include reasons the case system did not send"
    assert all("DelayReason" in r.missing for r in missing)
    # the read was audited as an export, once per person reported
    entries = search_audit(hub, OPERATOR, AuditFilter(actor=OPERATOR.name, limit=10_000))
    assert sum(1 for e in entries if e.action == "exported") == len(rows)
    checked = [e for e in entries if e.action == "decrypted" and "not due" in (e.reason or "")]
    assert len(checked) == len(people) - len(rows)  # every read audited, reported or not


def test_the_same_person_keeps_one_code_and_another_district_gets_another(hub: Hub) -> None:
    from hub.ivo.codes import full_personnummer, gender_of, ivo_code

    (person,) = FictionalPeople(5, kind="personnummer").take(1)
    number = hub.guards.hmacs.person_code(person.identity.canonical, DISTRICT)
    again = hub.guards.hmacs.person_code(person.identity.canonical, DISTRICT)
    other = hub.guards.hmacs.person_code(person.identity.canonical, "sdn-farsta")
    birth, gender = person.identity.birth_date, gender_of(person.identity)
    full = full_personnummer(person.identity)
    assert ivo_code(birth, gender, full, number) == ivo_code(birth, gender, full, again)
    assert number != other


def test_submission_sends_complete_reports_once(hub: Hub) -> None:
    allow(hub)
    send_events(hub, 60)
    first = submit_reports(hub, OPERATOR, DISTRICT, QUARTER)
    complete = [r for r in first.worklist.rows if r.complete]
    assert sorted(first.submitted) == sorted(r.reference for r in complete)
    assert first.repeated == []
    assert first.failed == []
    with hub.reader.connect() as conn:
        stored = conn.execute(
            select(messages.c.id).where(messages.c.message_type == "ivo.individual_report")
        ).all()
    assert len(stored) == len(complete)
    second = submit_reports(hub, OPERATOR, DISTRICT, QUARTER)
    assert second.submitted == []
    assert sorted(second.repeated) == sorted(first.submitted)
    with hub.reader.connect() as conn:
        again = conn.execute(
            select(messages.c.id).where(messages.c.message_type == "ivo.individual_report")
        ).all()
    assert len(again) == len(stored)


def test_without_an_ivo_agreement_nothing_is_tracked_or_read(hub: Hub) -> None:
    from hub.demo.ivo_events import IVO_PURPOSE

    agreements = ivo_agreements(
        hub.clock(), DISTRICT, execution_app=APP, event_recipient="case-sodermalm",
        hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
    )  # fmt: skip
    add_agreements(hub, agreements, "test")
    send_events(hub, 5)
    from dataclasses import replace

    # the events' agreement is revoked for IVO reporting: a new version without the purpose
    events_only = replace(agreements[0], version=2, purposes=frozenset({"execution_reporting"}))
    add_agreements(hub, [events_only], "test")
    assert IVO_PURPOSE not in events_only.purposes
    result = track_events(hub, OPERATOR)
    assert result.applied == 0
    assert result.refused > 0
    reports_off = replace(agreements[1], version=2, purposes=frozenset({"other_purpose"}))
    add_agreements(hub, [reports_off], "test")
    with pytest.raises(ContractRefusal):
        build_worklist(hub, OPERATOR, DISTRICT, QUARTER)


def test_the_command_line_reports_and_submits(hub: Hub, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hub.cli.main import cli, register_subcommands

    register_subcommands()
    allow(hub)
    send_events(hub, 40)
    env = {
        "OMSORGSHUB_HOME": str(hub.settings.home),
        "OMSORGSHUB_DATABASE_URL": hub.settings.database_url,
        "OMSORGSHUB_IVO_MUNICIPALITY": hub.settings.ivo_municipality,
        "OMSORGSHUB_IVO_ADMINISTRATIONS": hub.settings.ivo_administrations,
    }
    out = tmp_path / "worklist"
    args = ["--district", DISTRICT, "--quarter", QUARTER]
    report = CliRunner().invoke(cli, ["ivo", "report", *args, "--out", str(out)], env=env)
    assert report.exit_code == 0, report.output
    assert "new" in report.output
    assert "still not executed" in report.output
    assert (out / f"ivo-{DISTRICT}-{QUARTER}.csv").is_file()
    assert (out / f"ivo-{DISTRICT}-{QUARTER}.pdf").is_file()
    submit = CliRunner().invoke(cli, ["ivo", "submit", *args], env=env)
    assert submit.exit_code == 0, submit.output
    assert re.search(r"submitted [1-9]\d* reports; 0 were submitted before", submit.output)
    again = CliRunner().invoke(cli, ["ivo", "submit", *args], env=env)
    assert re.search(r"submitted 0 reports; [1-9]\d* were submitted before", again.output)
    bad = CliRunner().invoke(
        cli, ["ivo", "report", "--district", DISTRICT, "--quarter", "2026"], env=env
    )
    assert bad.exit_code == 2
    assert "ivo_quarter" in bad.output


def test_tracked_states_follow_key_rotation_and_survive_shredding_the_old_key(hub: Hub) -> None:
    from hub.services.data_keys import rewrap_keys, rotate_keys, shred_key

    allow(hub)
    send_events(hub, 20)
    before = build_worklist(hub, OPERATOR, DISTRICT, QUARTER)
    rotate_keys(hub, OPERATOR, DISTRICT)
    past_the_grace(hub)
    rewrap_keys(hub, OPERATOR, DISTRICT, batch=50)
    with hub.reader.connect() as conn:
        versions = set(conn.execute(select(ivo_decisions.c.key_version)).scalars())
    assert versions == {2}
    shred_key(hub, OPERATOR, DISTRICT, 1)
    after = build_worklist(hub, OPERATOR, DISTRICT, QUARTER)
    assert after.unreadable == []
    assert [r.reference for r in after.rows] == [r.reference for r in before.rows]


def test_a_state_under_a_shredded_key_is_listed_not_a_crash(hub: Hub) -> None:
    from hub.services.data_keys import rotate_keys, shred_key

    allow(hub)
    send_events(hub, 10)
    track_events(hub, OPERATOR)
    rotate_keys(hub, OPERATOR, DISTRICT)
    past_the_grace(hub)
    shred_key(hub, OPERATOR, DISTRICT, 1)  # without a rewrap first: unreadable for ever
    worklist = build_worklist(hub, OPERATOR, DISTRICT, QUARTER)
    assert worklist.rows == []
    assert len(worklist.unreadable) == 10


def past_the_grace(hub: Hub) -> None:
    """Move the hub's clock past the shred grace period of a rotation."""
    assert isinstance(hub.clock, Clock)
    hub.clock.advance(3600)


def test_a_district_administrator_reads_the_worklist_over_http(hub: Hub) -> None:
    import httpx

    from hub.services.systems import register_system
    from tests.integration.api_server import serve

    allow(hub)
    send_events(hub, 20)
    mine = register_system(hub, "ivo-admin", "IVO officer", "test", "admin", districts=[DISTRICT])
    other = register_system(hub, "farsta-admin", "other", "test", "admin", districts=["sdn-farsta"])
    server = serve(hub)
    try:
        url = f"{server.url}/api/v1/admin/ivo/worklist"
        query = {"district": DISTRICT, "quarter": QUARTER}
        answer = httpx.get(url, params=query, headers={"Authorization": f"Bearer {mine}"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        expected = build_worklist(hub, OPERATOR, DISTRICT, QUARTER)
        assert [r["reference"] for r in body["reports"]] == [r.reference for r in expected.rows]
        assert body["counts"] == expected.counts
        elsewhere = httpx.get(url, params=query, headers={"Authorization": f"Bearer {other}"})
        assert elsewhere.status_code == 404
        assert elsewhere.headers["content-type"].startswith("application/problem+json")
        bad = httpx.get(
            url, params={**query, "quarter": "2026Q5"}, headers={"Authorization": f"Bearer {mine}"}
        )
        assert bad.status_code == 422
        system = register_system(hub, "just-a-system", "a system", "test")
        refused = httpx.get(url, params=query, headers={"Authorization": f"Bearer {system}"})
        assert refused.status_code in (401, 403)
    finally:
        server.stop()


def test_two_tracking_jobs_at_once_apply_every_event_once(hub: Hub) -> None:
    import threading

    from hub.services.ivo_tracking import open_tracked
    from hub.storage import ivo as ivo_rows

    allow(hub)
    send_events(hub, 40)
    with hub.reader.connect() as conn:
        stored = conn.execute(
            select(messages.c.id).where(messages.c.message_type == "case.execution_event")
        ).all()
    results = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            results.append(track_events(hub, OPERATOR, batch=5))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 2
    assert sum(r.applied for r in results) == len(stored)
    with hub.reader.connect() as conn:
        rows = ivo_rows.decisions(conn, DISTRICT)
    with hub.engine.begin() as conn:
        events = sum(len(open_tracked(hub, conn, row).decision.events) for row in rows)
    assert events == len(stored)  # none lost to a concurrent write of the same decision


def test_without_a_route_for_the_reports_nothing_is_read_or_sent(tmp_path: Path) -> None:
    from hub.errors import RoutingError

    sandbox = Sandbox(
        tmp_path / "unrouted",
        overrides={"ivo_municipality": "Exempelstads kommun", "ivo_administrations": "*=Nämnd"},
    )
    spec = DestinationSpec("http", {"url": "http://127.0.0.1:9/unused", "timeout": 1})
    sandbox.write_routes({"case-sodermalm": spec}, [("case.execution_event", DISTRICT,
                                                     ["case-sodermalm"])])  # fmt: skip
    hub = sandbox.open()
    try:
        allow(hub)
        send_events(hub, 5)
        with pytest.raises(RoutingError):
            submit_reports(hub, OPERATOR, DISTRICT, QUARTER)
        entries = search_audit(hub, OPERATOR, AuditFilter(actor=OPERATOR.name, limit=1000))
        assert [e for e in entries if e.action in ("exported", "decrypted")] == []
    finally:
        hub.close()

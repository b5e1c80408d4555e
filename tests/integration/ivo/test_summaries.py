"""IVO tracking from the case system's GetClientSummary: the case-management double runs as its
own process, the hub asks it through its ordinary lookup path (routes, agreement, adapter
``case-soap``, audit ``queried``), the worklist takes the intervention from the configured map
and lists every disagreement between the summary and the events."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from lxml import etree

from adapters.doubles.case_management_seed import SeededClient, SeededDecision, seed_clients
from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub
from hub.demo.fictional import build_envelope
from hub.demo.ivo_events import ivo_agreements
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.services.agreements import add_agreements
from hub.services.audit_queries import AuditFilter, search_audit
from hub.services.ivo_reports import build_worklist, submit_reports
from hub.services.ivo_summaries import track
from hub.services.principal import Principal
from tests.adapter_contract import double_process
from tests.integration.spine import Clock

DISTRICT = "sdn-sodermalm"
APP = "lifecare"
SEED = 1  # the double's fictional clients (python -m ... --seed 1)
QUARTER = "2025Q1"  # every seeded decision was made in 2023 or the first half of 2024
OPERATOR = Principal.operator("operator:ivo-summary-test")
V2 = "urn:omsorgshub:case.execution_event:2"
MAP = "SoL:home_care=sol_home_care; LSS:personal_assistance=lss_personal_assistance"


@dataclass
class Setup:
    hub: Hub
    control: str  # the double's control URL


@pytest.fixture
def case_double() -> Iterator[tuple[str, str]]:
    with double_process("case_management_double", "/case-management/1", "--seed", str(SEED)) as (
        url,
        base,
    ):
        yield url, base


@pytest.fixture
def setup(tmp_path: Path, database_url: str, case_double: tuple[str, str]) -> Iterator[Setup]:
    url, base = case_double
    sink = HttpDouble()
    sink.start()
    sandbox = Sandbox(
        tmp_path / "hub",
        database_url=database_url,
        overrides={
            "ivo_municipality": "Exempelstads kommun",
            "ivo_administrations": "*=Vård- och omsorgsnämnden (fiktiv)",
            "ivo_intervention_map": MAP,
        },
    )
    http = DestinationSpec("http", {"url": sink.url, "timeout": 2})
    sandbox.write_routes(
        {"events": http, "ivo": http, "case-soap": DestinationSpec("case-soap", {"url": url})},
        [
            ("case.execution_event", DISTRICT, ["events"]),
            ("ivo.individual_report", DISTRICT, ["ivo"]),
            ("lookup.client_summary", DISTRICT, ["case-soap"]),
        ],
    )
    hub = sandbox.open(clock=Clock())
    yield Setup(hub, base)
    hub.close()
    sink.stop()


def allow(hub: Hub, *, summaries: bool = True) -> None:
    add_agreements(
        hub,
        ivo_agreements(
            hub.clock(), DISTRICT, execution_app=APP, event_recipient="events",
            hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
            summary_destination="case-soap" if summaries else None,
        ),
        "test",
    )  # fmt: skip


def decided(
    client: SeededClient, decision: SeededDecision, decision_id: str | None = None
) -> bytes:
    """A v2 ``decided`` event with the delay's reason and consequences, but no intervention."""
    root = etree.Element(f"{{{V2}}}ExecutionEvent", nsmap=cast("dict[str, str]", {None: V2}))
    did = decision_id or decision.decision_id
    for name, text in (
        ("EventId", f"EV-{did}"),
        ("DecisionId", did),
        ("Subject", client.identity.formatted()),
        ("Law", decision.law),
        ("EventKind", "decided"),
        ("EventDate", decision.decision_date.isoformat()),
        ("DecisionDate", decision.decision_date.isoformat()),
        ("DelayReason", "Ingen ledig plats (fiktivt)."),
        ("Consequences", "Anhöriga hjälper till (fiktivt)."),
    ):
        etree.SubElement(root, f"{{{V2}}}{name}").text = text
    root[2].set("scheme", client.identity.scheme)
    return build_envelope(
        message_type="case.execution_event",
        version="2",
        district=DISTRICT,
        purpose="ivo_reporting",
        body=etree.tostring(root, encoding="UTF-8"),
        message_id=f"EV-{did}",
        subjects=((client.identity.scheme, client.identity.formatted()),),
    )


def pick() -> dict[str, tuple[SeededClient, SeededDecision]]:
    clients = [c for c in seed_clients(SEED) if c.district == DISTRICT]
    pairs = [(c, d) for c in clients for d in c.decisions]
    return {
        "agrees": next(p for p in pairs if p[1].service[0] == "home_care" and _pending(p)),
        "executed": next(p for p in pairs if p[1].execution_state == "executed"),
        "unmapped": next(
            p for p in pairs if p[1].service[0] not in ("home_care", "personal_assistance")
            and _pending(p)
        ),
    }  # fmt: skip


def _pending(pair: tuple[SeededClient, SeededDecision]) -> bool:
    return pair[1].execution_state == "pending"


def test_the_summary_fills_the_intervention_and_its_disagreements_are_listed(
    setup: Setup, tmp_path: Path
) -> None:
    hub = setup.hub
    allow(hub)
    chosen = pick()
    for client, decision in chosen.values():
        hub.ingestor.ingest(APP, decided(client, decision))
    ghost_client = chosen["agrees"][0]
    hub.ingestor.ingest(APP, decided(ghost_client, chosen["agrees"][1], "B-GHOST-1"))
    result = track(hub, OPERATOR)
    assert (result.applied, result.summaries_read) == (4, 4)
    assert result.summaries_refused == result.summaries_failed == 0
    worklist = build_worklist(hub, OPERATOR, DISTRICT, QUARTER, out_dir=tmp_path / "out")
    rows = {r.decision_id: r for r in worklist.rows}
    csv_path, pdf_path = worklist.files
    with csv_path.open(encoding="utf-8") as fh:
        table = {r["decision_id"]: r for r in csv.DictReader(fh)}
    assert "does not list decision B-GHOST-1" in table["B-GHOST-1"]["disagreements"]
    assert pdf_path.read_bytes().startswith(b"%PDF")
    agrees = rows[chosen["agrees"][1].decision_id]
    assert agrees.intervention == "sol_home_care"  # from the summary, through the map
    assert agrees.complete
    assert not agrees.disagreements
    executed = rows[chosen["executed"][1].decision_id]
    assert any("the case system says executed, the events say pending" in d
               for d in executed.disagreements)  # fmt: skip
    assert not executed.complete  # the officer decides; never sent as it stands
    unmapped = rows[chosen["unmapped"][1].decision_id]
    assert "Intervention" in unmapped.missing
    assert chosen["unmapped"][1].service[0] in unmapped.notes[0]
    assert rows["B-GHOST-1"].disagreements == (
        f"the case system's summary of {hub.clock().date()} does not list decision B-GHOST-1",
    )
    submitted = submit_reports(hub, OPERATOR, DISTRICT, QUARTER)
    assert submitted.submitted == [agrees.reference]  # only the row both sources agree on
    # every question audited as queried, by the operator, naming the person by keyed hash only
    entries = search_audit(hub, OPERATOR, AuditFilter(actor=OPERATOR.name, limit=10_000))
    queried = [e for e in entries if e.action == "queried"]
    assert len(queried) >= 3  # one per person and run: the ghost shares a person
    assert all(e.destination == "case-soap" and e.subject_ref for e in queried)
    for client, _ in chosen.values():
        assert all(client.identity.canonical not in str(e) for e in entries)


def test_without_an_agreement_for_the_question_the_events_alone_make_the_report(
    setup: Setup,
) -> None:
    hub = setup.hub
    allow(hub, summaries=False)
    client, decision = pick()["agrees"]
    hub.ingestor.ingest(APP, decided(client, decision))
    result = track(hub, OPERATOR)
    assert (result.applied, result.summaries_read, result.summaries_refused) == (1, 0, 1)
    (row,) = build_worklist(hub, OPERATOR, DISTRICT, QUARTER).rows
    assert row.missing == ("Intervention",)
    assert not row.disagreements


def test_a_case_system_that_does_not_answer_leaves_the_tracking_as_it_was(setup: Setup) -> None:
    hub = setup.hub
    allow(hub)
    client, decision = pick()["agrees"]
    hub.ingestor.ingest(APP, decided(client, decision))
    down = httpx.post(f"{setup.control}/_control", json={"mode": "unavailable"})
    assert down.status_code == 200
    result = track(hub, OPERATOR)
    assert (result.applied, result.summaries_read, result.summaries_failed) == (1, 0, 1)
    httpx.post(f"{setup.control}/_control", json={"mode": "up"})
    again = track(hub, OPERATOR, all_summaries=True)  # asked again: now it answers
    assert (again.applied, again.summaries_read) == (0, 1)
    (row,) = build_worklist(hub, OPERATOR, DISTRICT, QUARTER).rows
    assert row.intervention == "sol_home_care"
    assert row.complete

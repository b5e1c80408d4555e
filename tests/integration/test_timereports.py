"""Time reports through the JSON API and the CSV import: the checks against the case system's
orders, the batch rule, approval gating what reaches the destination, a reopened period.

The case-management double and the destination (the Combine double) run as processes of their
own; the hub's relay runs, so anything not held would be delivered. An XML sender's checks:
``test_timereports_xml.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.demo.time_world import CSV_APP, CSV_PROVIDER, JSON_PROVIDER, home_care_order, ordered_codes
from hub.errors import TimeReportRefused
from hub.services.timereport_approval import reopen_period
from hub.services.timereport_import import import_csv
from hub.storage.tables import messages, timereport_batches
from tests.integration.api_server import wait_until
from tests.integration.timereports_setup import (
    OPERATOR,
    TimeReporting,
    recent,
    time_reporting,
    visit,
)


@pytest.fixture
def tr(tmp_path: Path, database_url: str) -> Iterator[TimeReporting]:
    with time_reporting(tmp_path / "home", database_url) as setup:
        yield setup


def stored(tr: TimeReporting) -> tuple[int, int]:
    with tr.hub.reader.connect() as conn:
        n_messages = conn.execute(select(func.count()).select_from(messages)).scalar_one()
        n_batches = conn.execute(select(func.count()).select_from(timereport_batches)).scalar_one()
    return int(n_messages), int(n_batches)


def reasons(response_json: dict[str, object]) -> list[tuple[object, object]]:
    findings = response_json["findings"]
    assert isinstance(findings, list)
    return [(f.get("index", f.get("line")), f["reason"]) for f in findings]


def test_only_approved_time_is_forwarded_and_only_once(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    visits = [visit(client, order, recent(30 - 2 * i), staff=f"st-{i}") for i in range(3)]
    answer = tr.report(visits, batch_id="b-approve-1")
    assert answer.status_code == 202, answer.text
    assert (answer.json()["state"], answer.json()["visits"]) == ("held", 3)
    time.sleep(1.0)  # the relay runs: a delivery that were not held would be sent by now
    assert tr.combine_stats()["requests"] == 0
    assert tr.batch("b-approve-1").json()["deliveries"] == {"held": 3}

    approved = tr.decide("b-approve-1", "approve", by="tl-17")
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"] == "app-testvard:tl-17"
    wait_until(lambda: tr.combine_stats()["imports"] == 3, "the approved visits at Combine")
    again = tr.decide("b-approve-1", "approve", by="tl-17")
    assert (again.status_code, again.json()["reason"]) == (409, "batch_decided")
    wait_until(
        lambda: tr.batch("b-approve-1").json()["deliveries"] == {"delivered": 3}, "delivered"
    )
    stats = tr.combine_stats()
    assert (stats["requests"], stats["imports"], stats["duplicates"]) == (3, 3, 0)


def test_a_rejected_batch_goes_back_with_its_reason_and_is_never_sent(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    start = recent(20)
    assert tr.report([visit(client, order, start)], batch_id="b-reject").status_code == 202
    no_reason = tr.decide("b-reject", "reject", by="tl-17", reason=" ")
    assert (no_reason.status_code, no_reason.json()["reason"]) == (422, "reason_required")
    rejected = tr.decide("b-reject", "reject", by="tl-17", reason="fel kund på besöket")
    assert rejected.status_code == 200, rejected.text
    status = tr.batch("b-reject").json()
    assert (status["state"], status["reason"]) == ("rejected", "fel kund på besöket")
    assert status["deliveries"] == {"rejected": 1}
    # the corrected visit at the same time by the same staff is no overlap with rejected time
    corrected = tr.report([visit(client, order, start, visit_id="v-corrected")])
    assert corrected.status_code == 202, corrected.text
    time.sleep(0.5)
    assert tr.combine_stats()["requests"] == 0
    # another provider's system can neither see nor decide this provider's batch
    assert tr.batch("b-reject", system=CSV_APP).status_code == 404
    other = tr.decide(corrected.json()["batch_id"], "approve", system=CSV_APP)
    assert other.status_code == 404


def test_one_bad_visit_refuses_the_whole_batch_naming_it(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    good = [visit(client, order, recent(30 - i), staff=f"st-{i}") for i in range(3)]
    bad = visit(client, order, recent(10), staff="st-9")
    bad["actual_end"] = bad["actual_start"]  # the boundary: not after start
    answer = tr.report([*good[:2], bad, good[2]])
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["reason"] == "time_report_refused"
    assert reasons(answer.json()) == [(2, "end_not_after_start")]
    assert stored(tr) == (0, 0)  # nothing of it
    bad["actual_end"] = (recent(10) + timedelta(minutes=1)).isoformat()
    assert tr.report([*good[:2], bad, good[2]]).status_code == 202


def test_orders_from_the_case_system_decide(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    other_client, other_order = home_care_order(CSV_PROVIDER, double_staffing=True)
    not_ordered = next(
        c for c in ("personal_care", "meal", "cleaning", "laundry", "shopping")
        if c not in ordered_codes(order)
    )  # fmt: skip
    answer = tr.report(
        [
            visit(client, order, recent(40), staff="a1", order_id="B-NONE-1"),
            visit(other_client, other_order, recent(39), staff="a2"),
            visit(client, order, recent(38), staff="a3", interventions=[{"code": not_ordered}]),
            visit(client, order, recent(37), staff="a4", second_staff_id="a5"),
        ]
    )
    assert answer.status_code == 422, answer.text
    assert reasons(answer.json()) == [
        (0, "no_active_order"),
        (1, "order_other_provider"),
        (2, "intervention_not_ordered"),
        (3, "double_staffing_not_ordered"),
    ]
    # the other provider's order has double staffing: its own app may report two staff
    double = visit(other_client, other_order, recent(36), staff="b1", second_staff_id="b2")
    ok = tr.report([double], system=CSV_APP)
    assert ok.status_code == 202, ok.text


def test_overlapping_visits_of_one_staff_member(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    start = recent(30)
    first = tr.report([visit(client, order, start, minutes=60, staff="st-7")])
    assert first.status_code == 202, first.text
    inside = visit(client, order, start + timedelta(minutes=59), staff="st-7", visit_id="v-2")
    after = visit(client, order, start + timedelta(minutes=60), staff="st-8", visit_id="v-3")
    twice = visit(client, order, start + timedelta(minutes=65), staff="st-8", visit_id="v-4")
    answer = tr.report([inside, after, twice])
    assert answer.status_code == 422
    assert reasons(answer.json()) == [(0, "staff_overlap"), (2, "staff_overlap")]
    touching = visit(client, order, start + timedelta(minutes=60), staff="st-7", visit_id="v-5")
    assert tr.report([touching]).status_code == 202  # ends meet: no overlap


def test_a_locked_period_is_refused_until_an_officer_reopens_it(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    old = (recent(0).replace(day=1) - timedelta(days=40)).replace(hour=9)  # two months back
    answer = tr.report([visit(client, order, old)])
    assert answer.status_code == 422
    assert reasons(answer.json()) == [(0, "period_locked")]
    period = f"{old.astimezone().year:04d}-{old.month:02d}"
    reopen_period(tr.hub, OPERATOR, JSON_PROVIDER, period, "efterregistrering, ärende 2026-17")
    assert tr.report([visit(client, order, old)]).status_code == 202


def test_many_manual_confirmations_are_a_warning_not_a_refusal(tr: TimeReporting) -> None:
    client, order = home_care_order(JSON_PROVIDER)
    visits = [
        visit(client, order, recent(30 - i), staff=f"m-{i}", confirmation="manual" if i else "code")
        for i in range(4)
    ]
    answer = tr.report(visits, batch_id="b-manual")
    assert answer.status_code == 202, answer.text
    assert [w["reason"] for w in answer.json()["warnings"]] == ["manual_share_high"]
    assert tr.batch("b-manual").json()["warnings"][0]["reason"] == "manual_share_high"


def test_the_csv_import_names_lines_and_stores_all_or_nothing(
    tr: TimeReporting, tmp_path: Path
) -> None:
    client, order = home_care_order(CSV_PROVIDER)
    code = ordered_codes(order)[0]
    number = client.identity.formatted()
    header = (
        "visit_id;staff_id;second_staff_id;client;client_scheme;order_id;interventions;"
        "planned_start;planned_end;actual_start;actual_end;confirmation"
    )

    def row(n: int, staff: str, end_minutes: int = 30, method: str = "code") -> str:
        start = recent(30 - n).astimezone()
        end = start + timedelta(minutes=end_minutes)
        return (
            f"c-{n};{staff};;{number};se;{order.decision_id};{code}:30;;;"
            f"{start:%Y-%m-%d %H:%M};{end:%Y-%m-%d %H:%M};{method}"
        )

    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([header, row(1, "x1"), row(2, "19121212-1212"), row(3, "x3", 0)]))
    with pytest.raises(TimeReportRefused) as info:
        import_csv(tr.hub, OPERATOR, bad, provider=CSV_PROVIDER)
    found = info.value.context["findings"]
    assert isinstance(found, list)
    assert [(f["line"], f["reason"]) for f in found] == [
        (3, "staff_id_invalid"),  # an identity number is no staff id
        (4, "end_not_after_start"),
    ]
    assert stored(tr) == (0, 0)

    good = tmp_path / "good.csv"
    good.write_text("\ufeff" + "\n".join([header, row(1, "x1"), row(2, "x2"), row(3, "x3")]))
    receipt = import_csv(tr.hub, OPERATOR, good, provider=CSV_PROVIDER, batch_id="csv-1")
    assert (receipt.batch_id, receipt.visits) == ("csv-1", 3)
    assert stored(tr) == (3, 1)


def test_an_xml_sender_of_v2_is_held_and_approved_by_batch_alike(tr: TimeReporting) -> None:
    from zoneinfo import ZoneInfo

    from hub.ingest.identity import parse_identity
    from hub.timereports.document import visit_body, visit_envelope
    from hub.timereports.model import Intervention, Visit

    client, order = home_care_order(JSON_PROVIDER)
    number = client.identity.formatted()
    start = recent(12)
    one = Visit(
        index=0, visit_id="x-1", staff_id="st-x", client=parse_identity(number),
        order_id=order.decision_id, interventions=(Intervention(ordered_codes(order)[0]),),
        actual_start=start, actual_end=start + timedelta(minutes=20), confirmation="digital_lock",
    )  # fmt: skip
    zone = ZoneInfo(tr.hub.settings.time_zone)  # VisitDate: the local day, as checked
    body = visit_body(one, provider=JSON_PROVIDER, batch_id="xml-1", zone=zone)
    document = visit_envelope(
        body, district="sdn-sodermalm", purpose="time_reporting", message_id="x-1"
    )
    with tr.client() as c:
        sent = c.post(
            "/api/v1/messages", content=document, headers={"Content-Type": "application/xml"}
        )
    assert sent.status_code == 202, sent.text
    # another provider's system naming this provider and batch in its own XML is refused
    # (403 provider_not_yours: tests/integration/test_timereports_xml.py)
    time.sleep(0.5)
    assert tr.combine_stats()["requests"] == 0
    assert tr.batch("xml-1").json()["deliveries"] == {"held": 1}
    assert tr.decide("xml-1", "approve", by="tl-1").status_code == 200
    wait_until(lambda: tr.combine_stats()["imports"] == 1, "the approved XML visit at Combine")


def test_the_command_line_imports_approves_and_reopens(tr: TimeReporting, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hub.cli.main import cli, register_subcommands

    register_subcommands()
    env = {
        "OMSORGSHUB_HOME": str(tmp_path / "home"),
        "OMSORGSHUB_DATABASE_URL": str(tr.hub.settings.database_url),
    }

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--as", "operator:test", "timereports", *args], env=env)
        assert result.exit_code == code, result.output
        return result.output

    client, order = home_care_order(CSV_PROVIDER)
    start = recent(8).astimezone()
    header = "visit_id;staff_id;client;order_id;interventions;actual_start;actual_end;confirmation"
    line = (
        f"k-1;k-staff;{client.identity.formatted()};{order.decision_id};"
        f"{ordered_codes(order)[0]};{start:%Y-%m-%d %H:%M};{{end}};code"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header}\n{line.format(end=f'{start:%Y-%m-%d %H:%M}')}\n")
    said = run("import", str(bad), "--provider", CSV_PROVIDER, code=2)
    assert "line 2: the actual end is not after start [end_not_after_start]" in said
    good = tmp_path / "good.csv"
    end = start + timedelta(minutes=25)
    good.write_text(f"{header}\n{line.format(end=f'{end:%Y-%m-%d %H:%M}')}\n")
    said = run("import", str(good), "--provider", CSV_PROVIDER, "--batch", "cli-1")
    assert "batch cli-1: 1 visits of prov-exempla-omsorg held for approval" in said
    said = run("approve", "cli-1", "--provider", CSV_PROVIDER, "--by", "tl-5")
    assert "approved" in said
    assert "operator:test:tl-5" in said
    wait_until(lambda: tr.combine_stats()["imports"] == 1, "the approved CLI import at Combine")
    said = run("reopen", "--provider", CSV_PROVIDER, "--period", "2026-13", "--reason", "x", code=2)
    assert "period_invalid" in said or "YYYY-MM" in said
    assert "reopened" in run(
        "reopen", "--provider", CSV_PROVIDER, "--period", "2026-10", "--reason", "sen rapport"
    )

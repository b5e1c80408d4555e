"""The working-time check in the hub: a voucher whose period breaks a rule is held at ingest,
an officer's release sends it to UBW once, a rejection is final (never sent, no replay), a
clean period flows.

Everything is the product: a hub on SQLite and on PostgreSQL (relay run pass by pass), the
registry's ``ubw`` adapter and the UBW double on 127.0.0.1, the provider app's shift reports
ingested as any type.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from adapters.doubles.ubw_double import UbwDouble
from audit.tables import audit_entries
from hub.atl.rules import Shift
from hub.atl.shifts import TYPE
from hub.bootstrap import Hub
from hub.demo.atl_world import (
    ASSISTANCE_APP,
    PURPOSE,
    SHIFT_ARCHIVE,
    atl_agreement,
    clean_month,
    payment_for,
    shift_report,
    short_rest_month,
)
from hub.demo.fictional import FictionalPeople, FictionalPerson, build_envelope
from hub.demo.flows import payment_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CASE_SYSTEM, FINANCE, flow_agreements
from hub.errors import InputError, NotFound
from hub.services.agreements import add_agreements, register_system
from hub.services.atl import decide_payment, held_payments, violations_report
from hub.services.audit_queries import report
from hub.services.messages import replay_deliveries
from hub.services.principal import Principal
from hub.storage import deliveries as delivery_rows
from tests.integration.api_server import problem_of, serve
from tests.integration.spine import Clock, InlineDispatcher

DISTRICT = "sdn-sodermalm"
PASSWORD = "fiktivt-losenord-3"
NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
OFFICER = Principal.operator("operator:handlaggare")


@pytest.fixture
def ubw() -> Iterator[UbwDouble]:
    with UbwDouble(password=PASSWORD) as double:
        yield double


@pytest.fixture
def hub(tmp_path: Path, ubw: UbwDouble, database_url: str) -> Iterator[Hub]:
    clock, dispatcher = Clock(), InlineDispatcher()
    options = {"url": ubw.url, "username": ubw.username, "client": ubw.client,
               "password": PASSWORD, "timeout": 2, "retries": 2}  # fmt: skip
    sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
    sandbox.write_routes(
        {
            FINANCE: DestinationSpec("ubw", options),
            SHIFT_ARCHIVE: DestinationSpec("memory", {}),
        },
        [("finance.payment", DISTRICT, [FINANCE]), (TYPE, DISTRICT, [SHIFT_ARCHIVE])],
    )
    opened = sandbox.open(dispatcher=dispatcher, clock=clock)
    try:
        dispatcher.execute = opened.executor.execute
        register_system(opened, CASE_SYSTEM, "case system (test)", "test")
        register_system(opened, ASSISTANCE_APP, "assistance provider app (test)", "test")
        payments = [
            a
            for a in flow_agreements(clock())
            if a.district == DISTRICT and "finance.payment" in a.message_types
        ]
        add_agreements(opened, [*payments, atl_agreement(clock(), DISTRICT)], "test")
        yield opened
    finally:
        opened.close()


def _people(n: int) -> list[FictionalPerson]:
    return FictionalPeople(11, kind="personnummer").take(n)


def _report(hub: Hub, client: FictionalPerson, assistant: str, shifts: list[Shift]) -> None:
    body = shift_report(
        assistant=assistant,
        client=client.identity.canonical,
        period="2026-11",
        shifts=shifts,
        report_id=f"R-{assistant}",
    )
    envelope = build_envelope(
        message_type=TYPE, version="1", district=DISTRICT, purpose=PURPOSE, body=body,
        message_id=f"shifts-{assistant}-{client.identity.canonical}",
    )  # fmt: skip
    hub.ingestor.ingest(ASSISTANCE_APP, envelope)


def _pay(hub: Hub, client: FictionalPerson, message_id: str) -> str:
    body = payment_for(payment_body(client, random.Random(message_id)), NOVEMBER)
    envelope = build_envelope(
        message_type="finance.payment", version="1", district=DISTRICT,
        purpose="assistance_payment", body=body, message_id=message_id,
    )  # fmt: skip
    return hub.ingestor.ingest(CASE_SYSTEM, envelope).message_id


def _delivery(hub: Hub, message_id: str) -> delivery_rows.DeliveryRow:
    with hub.reader.connect() as conn:
        (row,) = delivery_rows.for_message(conn, message_id)
    return row


def _actions(hub: Hub) -> list[str]:
    with hub.reader.connect() as conn:
        return list(conn.execute(select(audit_entries.c.action)).scalars())


def test_a_violation_holds_the_payment_until_released_then_ubw_gets_it_once(
    hub: Hub, ubw: UbwDouble
) -> None:
    client, other = _people(2)
    _report(hub, client, "A-100", short_rest_month(2026, 11))
    _report(hub, other, "A-200", clean_month(2026, 11))
    held_id = _pay(hub, client, "pay-held")
    clean_id = _pay(hub, other, "pay-clean")
    hub.relay.run_once()

    held = _delivery(hub, held_id)
    assert (held.state, held.last_reason) == ("held", "atl_violation")
    assert "daily_rest" in (held.last_error or "")
    assert _delivery(hub, clean_id).state == "delivered"
    assert ubw.stats()["vouchers"] == 1

    (hold,) = held_payments(hub, OFFICER)
    assert hold.delivery_id == held.id
    (violation,) = hold.violations
    assert violation["rule"] == "daily_rest"
    assert violation["hours"] == 10.0
    assert violation["limit"] == 11
    assert "13 §" in str(violation["source"])
    assert "held" in _actions(hub)
    assert "decrypted" in _actions(hub)

    with pytest.raises(InputError, match="reason"):
        decide_payment(hub, OFFICER, held.id, decision="release", reason=" ")
    decide_payment(hub, OFFICER, held.id, decision="release", reason="schedule agreed with union")
    hub.relay.run_once()
    hub.relay.run_once()
    assert _delivery(hub, held_id).state == "delivered"
    assert ubw.stats()["vouchers"] == 2  # the released one, once
    with pytest.raises(InputError, match="not held"):
        decide_payment(hub, OFFICER, held.id, decision="release", reason="again")
    assert "released" in _actions(hub)
    extract = report(hub, OFFICER, client.identity.canonical, "se", "csv")
    said = [a.description for a in extract.accesses]
    assert "decrypted by atl-check" in said  # the check read the client's shift report
    assert "held by atl-check" in said
    assert "released by operator:handlaggare" in said


def test_a_rejected_payment_is_final_and_never_reaches_ubw(hub: Hub, ubw: UbwDouble) -> None:
    (client,) = _people(1)
    _report(hub, client, "A-300", short_rest_month(2026, 11))
    message_id = _pay(hub, client, "pay-rejected")
    row = _delivery(hub, message_id)
    decide_payment(hub, OFFICER, row.id, decision="reject", reason="hours not payable")
    hub.relay.run_once()
    after = _delivery(hub, message_id)
    assert (after.state, after.last_reason) == ("rejected", "atl_rejected")
    assert ubw.stats()["vouchers"] == 0
    assert "rejected" in _actions(hub)
    # A rejection is final: no replay sends it after all.
    replayed = replay_deliveries(hub, OFFICER, [], reason="replay all dead", all_dead=True)
    assert replayed.replayed == 0
    again = replay_deliveries(hub, OFFICER, [row.id], reason="this one")
    assert (again.replayed, again.skipped) == (0, [(row.id, "rejected")])
    hub.relay.run_once()
    assert ubw.stats()["vouchers"] == 0
    outsider = Principal.district_admin("admin:farsta", ["sdn-farsta"])
    with pytest.raises(NotFound):
        decide_payment(hub, outsider, row.id, decision="release", reason="x")


def test_the_report_lists_the_months_violations_per_provider_and_assistant(hub: Hub) -> None:
    client, other = _people(2)
    _report(hub, client, "A-400", short_rest_month(2026, 11))
    _report(hub, other, "A-500", clean_month(2026, 11))
    rows = violations_report(hub, OFFICER, period="2026-11")
    assert [(r.rule, r.hours, r.limit) for r in rows] == [("daily_rest", 10.0, 11.0)]
    assert rows[0].provider == "5590001234"
    assert len(rows[0].assistant) == 16
    assert violations_report(hub, OFFICER, period="2026-10") == []


def test_the_admin_api_lists_and_releases_held_payments_of_its_districts(
    hub: Hub, ubw: UbwDouble
) -> None:
    (client,) = _people(1)
    _report(hub, client, "A-600", short_rest_month(2026, 11))
    message_id = _pay(hub, client, "pay-api")
    delivery_id = _delivery(hub, message_id).id
    own = register_system(hub, "sod-admin", "admin", "test", "admin", districts=[DISTRICT])
    other = register_system(hub, "far-admin", "admin", "test", "admin", districts=["sdn-farsta"])
    server = serve(hub)
    try:

        def call(method: str, path: str, token: str, **kw: object) -> httpx.Response:
            return httpx.request(
                method, f"{server.url}/api/v1/atl{path}",
                headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False,
                **kw,  # type: ignore[arg-type]
            )  # fmt: skip

        listed = call("GET", "/held", own).json()["held"]
        assert [h["delivery_id"] for h in listed] == [delivery_id]
        assert listed[0]["violations"][0]["rule"] == "daily_rest"
        assert client.identity.canonical not in call("GET", "/held", own).text
        assert call("GET", "/held", other).json() == {"held": []}
        scrape = httpx.get(f"{server.url}/metrics", timeout=30, trust_env=False).text
        assert 'omsorgshub_deliveries{destination="finance-ubw",state="held"} 1.0' in scrape
        release = f"/held/{delivery_id}/release"
        problem_of(call("POST", release, other, json={"reason": "x"}), 404, "not_found")
        assert call("POST", release, own, json={}).status_code == 422
        answer = call("POST", release, own, json={"reason": "agreed exception"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["decision"], answer.json()["state"]) == ("released", "pending")
        problem_of(call("POST", release, own, json={"reason": "again"}), 422, "not_held")
        report = call("GET", "/report", own, params={"period": "2026-11"}).json()
        assert [v["rule"] for v in report["violations"]] == ["daily_rest"]
    finally:
        server.stop()
    hub.relay.run_once()
    assert _delivery(hub, message_id).state == "delivered"
    assert ubw.stats()["vouchers"] == 1


def test_the_rules_apply_per_employment_across_clients_and_an_unknown_rule_set_holds(
    hub: Hub, ubw: UbwDouble
) -> None:
    first, second, third, nobody = _people(4)
    # A-700 works mornings for one client and one late evening for another: each report is
    # clean alone; together the rest before the next morning is 10 hours.
    evening = [s for s in short_rest_month(2026, 11) if s.start.hour == 17]
    _report(hub, first, "A-700", clean_month(2026, 11))
    _report(hub, second, "A-700", evening)
    body = shift_report(
        assistant="A-800",
        client=third.identity.canonical,
        period="2026-11",
        shifts=clean_month(2026, 11),
        report_id="R-800",
    ).replace(b"<RuleSet>atl-1982-673</RuleSet>", b"<RuleSet>ab-unknown-2026</RuleSet>")
    hub.ingestor.ingest(ASSISTANCE_APP, build_envelope(
        message_type=TYPE, version="1", district=DISTRICT, purpose=PURPOSE, body=body,
        message_id="shifts-unknown-rule-set"))  # fmt: skip
    paid = {p: _pay(hub, p, f"pay-{i}") for i, p in enumerate((first, second, third, nobody))}
    hub.relay.run_once()

    states = {p: _delivery(hub, m).state for p, m in paid.items()}
    assert states == {first: "held", second: "held", third: "held", nobody: "delivered"}
    rules = {h.message_id: [v["rule"] for v in h.violations] for h in held_payments(hub, OFFICER)}
    assert rules[paid[first]] == ["daily_rest"]
    assert rules[paid[third]] == ["unknown_rule_set"]
    assert ubw.stats()["vouchers"] == 1  # only the client with no shift reports to check


def test_a_corrected_report_replaces_the_earlier_one_of_its_month(hub: Hub, ubw: UbwDouble) -> None:
    (client,) = _people(1)
    _report(hub, client, "A-900", short_rest_month(2026, 11))
    assert isinstance(hub.clock, Clock)
    hub.clock.advance(60)  # the correction comes later
    body = shift_report(
        assistant="A-900", client=client.identity.canonical, period="2026-11",
        shifts=clean_month(2026, 11), report_id="R-900-corrected",
    )  # fmt: skip
    hub.ingestor.ingest(ASSISTANCE_APP, build_envelope(
        message_type=TYPE, version="1", district=DISTRICT, purpose=PURPOSE, body=body,
        message_id="shifts-A-900-corrected"))  # fmt: skip
    message_id = _pay(hub, client, "pay-corrected")
    hub.relay.run_once()
    assert _delivery(hub, message_id).state == "delivered"
    assert violations_report(hub, OFFICER, period="2026-11") == []

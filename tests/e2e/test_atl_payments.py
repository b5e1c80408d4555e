"""Working-time checks end to end, whole processes: an assistance provider's app and the case
system send through the HTTP API of ``omsorgshub serve``; the UBW double (``python -m
adapters.doubles.ubw_double``) is a process of its own. The payment of a client whose
assistant's month breaks the daily rest is held (not at UBW); the payment of a clean month
flows; ``omsorgshub atl release`` lets the held one go and UBW gets it once;
``omsorgshub atl report`` lists the violation.
"""

from __future__ import annotations

import csv
import io
import random
import sys
import time
from datetime import date
from pathlib import Path

import httpx

from hub.atl.shifts import TYPE
from hub.demo.atl_world import (
    ASSISTANCE_APP,
    PROVIDER,
    PURPOSE,
    SHIFT_ARCHIVE,
    atl_agreement,
    clean_month,
    payment_for,
    shift_report,
    short_rest_month,
)
from hub.demo.fictional import FictionalPeople, build_envelope
from hub.demo.flows import payment_body
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CASE_SYSTEM, FINANCE, flow_agreements
from hub.services.agreements import add_agreements, register_system
from tests.child_python import fresh_env
from tests.e2e.processes import Processes, free_port, hub_command, run

DISTRICT = "sdn-sodermalm"
PASSWORD = "fiktivt-lösen-atl"
SETTINGS = {"relay_interval": "0.2", "retry_base_seconds": "0.2", "retry_cap_seconds": "1"}


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _vouchers(ubw_base: str) -> int:
    return int(httpx.get(f"{ubw_base}/_stats", timeout=5).json()["vouchers"])


def test_a_held_payment_reaches_ubw_once_after_release_and_a_clean_one_flows(
    procs: Processes, home: Path
) -> None:
    ubw_port = free_port()
    ubw = procs.start(
        "ubw-double",
        [sys.executable, "-m", "adapters.doubles.ubw_double", "--port", str(ubw_port),
         "--password", PASSWORD],
        fresh_env({}),
    )  # fmt: skip
    ubw_base = f"http://127.0.0.1:{ubw_port}"
    options = {"url": f"{ubw_base}/service.svc", "username": "HUBWS", "client": "SE10",
               "password": PASSWORD, "timeout": 5, "retries": 2}  # fmt: skip
    sandbox = Sandbox(home, overrides=SETTINGS)
    sandbox.write_routes(
        {FINANCE: DestinationSpec("ubw", options), SHIFT_ARCHIVE: DestinationSpec("memory", {})},
        [("finance.payment", DISTRICT, [FINANCE]), (TYPE, DISTRICT, [SHIFT_ARCHIVE])],
    )
    hub = sandbox.open()
    try:
        case_token = register_system(hub, CASE_SYSTEM, "case system (e2e)", actor="e2e")
        app_token = register_system(hub, ASSISTANCE_APP, "provider app (e2e)", actor="e2e")
        payments = [
            a
            for a in flow_agreements(hub.clock())
            if a.district == DISTRICT and "finance.payment" in a.message_types
        ]
        add_agreements(hub, [*payments, atl_agreement(hub.clock(), DISTRICT)], actor="e2e")
    finally:
        hub.close()
    env = fresh_env(
        {"OMSORGSHUB_HOME": str(home)} | {f"OMSORGSHUB_{k.upper()}": v for k, v in SETTINGS.items()}
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = procs.start("serve", hub_command("serve", "--port", str(port)), env)
    procs.wait_for("serve", lambda: _ready(f"{url}/readyz"), timeout=30, watch=[serve])
    procs.wait_for("UBW double", lambda: _ready(f"{ubw_base}/_stats"), timeout=20, watch=[ubw])

    broken, clean = FictionalPeople(21, kind="personnummer").take(2)
    months = {broken: short_rest_month(2026, 11), clean: clean_month(2026, 11)}

    def post(token: str, envelope: bytes) -> dict[str, object]:
        answer = httpx.post(
            f"{url}/api/v1/messages",
            content=envelope,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
            timeout=15,
        )
        assert answer.status_code == 202, answer.text
        result: dict[str, object] = answer.json()
        return result

    for i, (person, shifts) in enumerate(months.items()):
        body = shift_report(
            assistant=f"A-{i}", client=person.identity.canonical, period="2026-11",
            shifts=shifts, report_id=f"R-{i}",
        )  # fmt: skip
        post(app_token, build_envelope(
            message_type=TYPE, version="1", district=DISTRICT, purpose=PURPOSE, body=body,
            message_id=f"shifts-{i}"))  # fmt: skip
    held_delivery = ""
    for person in (broken, clean):
        body = payment_for(
            payment_body(person, random.Random(person.identity.canonical)),
            (date(2026, 11, 1), date(2026, 11, 30)),
        )
        answer = post(case_token, build_envelope(
            message_type="finance.payment", version="1", district=DISTRICT,
            purpose="assistance_payment", body=body,
            message_id=f"pay-{person.identity.canonical}"))  # fmt: skip
        if person is broken:
            deliveries = answer["deliveries"]
            assert isinstance(deliveries, list)
            assert len(deliveries) == 1
            held_delivery = str(deliveries[0]["id"])

    # The clean month's payment flows; the broken one is held, not at UBW.
    procs.wait_for("the clean payment at UBW", lambda: _vouchers(ubw_base) >= 1, timeout=60,
                   watch=[serve, ubw])  # fmt: skip
    time.sleep(1.0)  # several relay passes: a held payment would have been claimed by now
    assert _vouchers(ubw_base) == 1
    held = run(hub_command("atl", "held"), env)
    assert held.returncode == 0, held.stdout + held.stderr
    assert held_delivery in held.stdout
    assert "daily_rest: 10.0 h (limit 11.0 h)" in held.stdout
    assert PROVIDER in held.stdout

    listed = run(hub_command("messages", "list", "--state", "held"), env)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout.count("finance.payment") == 1
    report = run(hub_command("atl", "report", "--period", "2026-11", "--format", "csv"), env)
    assert report.returncode == 0, report.stdout + report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert [(r["provider"], r["rule"], r["hours"]) for r in rows] == [
        (PROVIDER, "daily_rest", "10.0")
    ]

    no_reason = run(hub_command("atl", "release", held_delivery, "--reason", " "), env)
    assert no_reason.returncode != 0
    assert "Traceback" not in no_reason.stderr
    release = run(hub_command("atl", "release", held_delivery, "--reason", "agreed exception"), env)
    assert release.returncode == 0, release.stdout + release.stderr
    procs.wait_for("the released payment at UBW", lambda: _vouchers(ubw_base) >= 2, timeout=60,
                   watch=[serve, ubw])  # fmt: skip
    time.sleep(1.0)
    assert _vouchers(ubw_base) == 2  # once
    again = run(hub_command("atl", "release", held_delivery, "--reason", "twice"), env)
    assert again.returncode != 0
    assert "not held" in again.stderr + again.stdout

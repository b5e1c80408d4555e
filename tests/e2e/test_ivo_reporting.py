"""IVO reporting end to end, whole processes: execution events for a few hundred fictional
decisions come in through the HTTP API of ``omsorgshub serve``; ``omsorgshub ivo report``
builds the quarter's worklist; ``omsorgshub ivo submit`` sends its complete reports through the
hub's outbox and the ``ivo`` robot to IVO's e-service double (``python -m
adapters.doubles.ivo_double``, a process of its own). The double's list of received reports
matches the worklist's complete reports one to one; submitting again adds nothing.
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

import httpx
import pytest

from adapters.doubles.http_double import HttpDouble
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import decision_life, event_envelope, ivo_agreements
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.ivo.model import Quarter
from hub.services.agreements import add_agreements, register_system
from tests.child_python import fresh_env
from tests.e2e.processes import Processes, free_port, hub_command, run

DISTRICT = "sdn-sodermalm"
APP = "lifecare"
QUARTER = "2026Q3"
DECISIONS = 300
PASSWORD = "fiktivt-lösen-e2e"
SETTINGS = {
    "relay_interval": "0.2",
    "retry_base_seconds": "0.2",
    "retry_cap_seconds": "1",
    "ivo_municipality": "Exempelstad kommun",
    "ivo_administrations": "*=Vård- och omsorgsnämnden",
}


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _received(ivo_url: str) -> list[dict[str, str]]:
    answer = httpx.get(f"{ivo_url}/_received", timeout=5)
    answer.raise_for_status()
    reports: list[dict[str, str]] = answer.json()
    return reports


def test_a_quarter_goes_to_ivo_once(
    procs: Processes,
    double: HttpDouble,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ivo_port = free_port()
    ivo = procs.start(
        "ivo-double",
        [sys.executable, "-m", "adapters.doubles.ivo_double", "--port", str(ivo_port),
         "--password", PASSWORD],
        fresh_env({}),
    )  # fmt: skip
    ivo_url = f"http://127.0.0.1:{ivo_port}"
    monkeypatch.setenv("IVO_E2E_PASSWORD", PASSWORD)  # the adapter reads it where it is built
    sandbox = Sandbox(home, overrides=SETTINGS)
    sandbox.write_routes(
        {
            "case-sodermalm": DestinationSpec("http", {"url": double.url, "timeout": 5}),
            "ivo": DestinationSpec(
                "ivo",
                {"url": ivo_url, "username": "robot", "password_env": "IVO_E2E_PASSWORD",
                 "timeout": 10},
                {"base_seconds": 0.2, "cap_seconds": 1.0, "max_attempts": 20},
            ),
        },
        [
            ("case.execution_event", DISTRICT, ["case-sodermalm"]),
            ("ivo.individual_report", DISTRICT, ["ivo"]),
        ],
    )  # fmt: skip
    hub = sandbox.open()
    try:
        token = register_system(hub, APP, "case system (e2e)", actor="e2e")
        add_agreements(
            hub,
            ivo_agreements(
                hub.clock(), DISTRICT, execution_app=APP, event_recipient="case-sodermalm",
                hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
            ),
            actor="e2e",
        )  # fmt: skip
    finally:
        hub.close()
    env = fresh_env(
        {"OMSORGSHUB_HOME": str(home), "IVO_E2E_PASSWORD": PASSWORD}
        | {f"OMSORGSHUB_{k.upper()}": v for k, v in SETTINGS.items()}
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = procs.start("serve", hub_command("serve", "--port", str(port)), env)
    procs.wait_for("serve to be ready", lambda: _ready(url), timeout=30, watch=[serve])
    procs.wait_for("the IVO double", lambda: _ready_double(ivo_url), timeout=20, watch=[ivo])

    # 1. the case system's execution events, through the HTTP API
    rng = random.Random(12)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    sent = 0
    with httpx.Client(base_url=url, timeout=15, headers=headers) as client:
        for i, person in enumerate(FictionalPeople(12).take(DECISIONS)):
            for event in decision_life(
                person, rng, Quarter.parse(QUARTER), decision_id=f"B-E2E-{i:05d}"
            ):
                answer = client.post("/api/v1/messages", content=event_envelope(
                    person, DISTRICT, event))  # fmt: skip
                assert answer.status_code == 202, answer.text
                sent += 1
    assert sent > DECISIONS

    # 2. the worklist
    out = tmp_path / "worklist"
    args = ["--district", DISTRICT, "--quarter", QUARTER]
    report = run(hub_command("ivo", "report", *args, "--out", str(out)), env, timeout=120)
    assert report.returncode == 0, report.stdout + report.stderr
    assert f"tracking: {sent} new events applied to {DECISIONS} decisions" in report.stdout
    with (out / f"ivo-{DISTRICT}-{QUARTER}.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    complete = {r["reference"]: r for r in rows if not r["missing"]}
    incomplete = [r for r in rows if r["missing"]]
    assert len(complete) > 100
    assert incomplete, "some decisions lack a reason the case system did not send"
    for state in ("new", "still_not_executed", "executed", "closed"):
        assert any(r["state"] == state for r in complete.values()), state

    # 3. the submission, through the outbox and the robot, to the double
    submit = run(hub_command("ivo", "submit", *args), env, timeout=120)
    assert submit.returncode == 0, submit.stdout + submit.stderr
    assert f"submitted {len(complete)} reports; 0 were submitted before" in submit.stdout
    procs.wait_for(
        f"{len(complete)} reports at the IVO double",
        lambda: len(_received(ivo_url)) >= len(complete),
        timeout=240,
        watch=[serve, ivo],
    )
    received = _received(ivo_url)
    by_reference = {r["er_referens"]: r for r in received}
    assert len(by_reference) == len(received) == len(complete)
    assert set(by_reference) == set(complete)
    for reference, row in complete.items():
        got = by_reference[reference]
        assert got["individkod"] == row["code"]
        assert got["beslutsreferens"] == row["decision_id"]
        assert got["beslutsdatum"] == row["decision_date"]
        assert re.fullmatch(r"IVO-\d{4}-\d{6}", got["kvittens"])
    everything = "\n".join(str(r) for r in received)
    for person in FictionalPeople(12).take(DECISIONS):
        assert person.identity.canonical[2:] not in everything.replace("-", "")

    # 4. again: nothing new is stored, nothing new reaches IVO
    again = run(hub_command("ivo", "submit", *args), env, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"submitted 0 reports; {len(complete)} were submitted before" in again.stdout
    messages = run(hub_command("messages", "list", "--destination", "ivo", "--limit", "1000"),
                   env)  # fmt: skip
    assert messages.stdout.count("ivo.individual_report") == len(complete)
    assert len(_received(ivo_url)) == len(complete)


def _ready_double(ivo_url: str) -> bool:
    try:
        return httpx.get(f"{ivo_url}/_received", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

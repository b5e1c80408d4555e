"""Time reports end to end, whole processes: ``omsorgshub serve``, the case-management double
(the orders) and the Combine double (``adapters.doubles.combine_double``), each a process of its
own. One
provider's app posts a JSON batch, the other's CSV export is imported with ``omsorgshub
timereports import``; only the approved batch reaches the destination, once; the rejected one
goes back to its app with the reason.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import TIMEREPORTS, case_destination
from hub.demo.time_world import (
    CSV_APP,
    CSV_HEADER,
    CSV_PROVIDER,
    DISTRICT,
    JSON_APP,
    JSON_PROVIDER,
    csv_line,
    home_care_orders,
    time_agreements,
    visit_json,
)
from hub.services.agreements import add_agreements, register_system
from hub.services.principal import Principal
from hub.services.timereport_approval import register_provider
from tests.child_python import fresh_env
from tests.e2e.processes import Processes, free_port, hub_command, run

SETTINGS = {"relay_interval": "0.2", "retry_base_seconds": "0.2", "retry_cap_seconds": "1"}


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _listens(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _prepare(home: Path, case_url: str, combine_url: str) -> dict[str, str]:
    sandbox = Sandbox(home, overrides=SETTINGS)
    sandbox.write_routes(
        {
            TIMEREPORTS: DestinationSpec("combine", {"base_url": combine_url, "timeout": 5}),
            case_destination(DISTRICT): DestinationSpec("case-soap", {"url": case_url}),
        },
        [
            ("timereport.visit", "*", [TIMEREPORTS]),
            ("lookup.client_summary", DISTRICT, [case_destination(DISTRICT)]),
        ],
    )
    hub = sandbox.open()
    try:
        tokens = {
            app: register_system(hub, app, "time app (e2e)", "e2e") for app in (JSON_APP, CSV_APP)
        }
        add_agreements(hub, time_agreements(hub.clock(), [JSON_APP, CSV_APP]), "e2e")
        operator = Principal.operator("operator:e2e")
        register_provider(hub, operator, JSON_PROVIDER, system=JSON_APP, district=DISTRICT)
        register_provider(hub, operator, CSV_PROVIDER, system=CSV_APP, district=DISTRICT)
    finally:
        hub.close()
    return tokens


def test_only_approved_time_reaches_combine_once(
    procs: Processes, home: Path, tmp_path: Path
) -> None:
    case_port, combine_port, port = free_port(), free_port(), free_port()
    case = procs.start(
        "case-double",
        [sys.executable, "-m", "adapters.doubles.case_management_double", "--port", str(case_port)],
        fresh_env({}),
    )
    combine = procs.start(
        "combine-double",
        [sys.executable, "-m", "adapters.doubles.combine_double", "--port", str(combine_port)],
        fresh_env({}),
    )
    combine_base = f"http://127.0.0.1:{combine_port}"
    procs.wait_for("the case double", lambda: _listens(case_port), timeout=20, watch=[case])
    procs.wait_for(
        "Combine's double", lambda: _answers(f"{combine_base}/_stats"), timeout=20, watch=[combine]
    )
    tokens = _prepare(home, f"http://127.0.0.1:{case_port}/case-management/1", combine_base)
    env = fresh_env(
        {"OMSORGSHUB_HOME": str(home)} | {f"OMSORGSHUB_{k.upper()}": v for k, v in SETTINGS.items()}
    )
    url = f"http://127.0.0.1:{port}"
    serve = procs.start("serve", hub_command("serve", "--port", str(port)), env)
    procs.wait_for(
        "serve to be ready", lambda: _answers(f"{url}/readyz"), timeout=30, watch=[serve]
    )

    def stats() -> dict[str, int]:
        answer: dict[str, int] = httpx.get(f"{combine_base}/_stats", timeout=5).json()
        return answer

    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=5)
    # 1. Testvård's app: a JSON batch
    orders = home_care_orders(JSON_PROVIDER)
    visits = [
        visit_json(*orders[i % len(orders)], start + timedelta(hours=i), staff=f"t-{i}")
        for i in range(3)
    ]
    json_app = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {tokens[JSON_APP]}"}, timeout=30
    )
    sent = json_app.post("/api/v1/timereports", json={"batch_id": "e2e-json", "visits": visits})
    assert sent.status_code == 202, sent.text
    # 2. Exempla's export, imported at the command line
    zone = ZoneInfo("Europe/Stockholm")
    rows = [
        csv_line(f"e-{i}", f"x-{i}", *pair, (start + timedelta(hours=i)).astimezone(zone),
                 (start + timedelta(hours=i, minutes=20)).astimezone(zone))
        for i, pair in enumerate(home_care_orders(CSV_PROVIDER)[:2])
    ]  # fmt: skip
    export = tmp_path / "export.csv"
    export.write_text("\n".join([CSV_HEADER, *rows]) + "\n", encoding="utf-8")
    imported = run(
        hub_command(
            "timereports", "import", str(export), "--provider", CSV_PROVIDER, "--batch", "e2e-csv"
        ),
        env,
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "2 visits of prov-exempla-omsorg held for approval" in imported.stdout
    time.sleep(1.5)  # the relay runs every 0.2 s: anything not held would be sent by now
    assert stats()["requests"] == 0

    # 3. approved over the API; rejected at the command line
    approved = json_app.post("/api/v1/timereports/batches/e2e-json/approve", json={"by": "tl-1"})
    assert approved.status_code == 200, approved.text
    rejected = run(
        hub_command("timereports", "reject", "e2e-csv", "--provider", CSV_PROVIDER, "--by", "tl-2",
                    "--reason", "kvittens saknas"),
        env,
    )  # fmt: skip
    assert rejected.returncode == 0, rejected.stdout + rejected.stderr
    procs.wait_for(
        "the approved visits at Combine", lambda: stats()["imports"] == 3, timeout=30, watch=[serve]
    )
    time.sleep(1.5)
    assert (stats()["requests"], stats()["duplicates"]) == (3, 0)
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {tokens[CSV_APP]}"}, timeout=30
    ) as c:
        back = c.get("/api/v1/timereports/batches/e2e-csv").json()
    assert (back["state"], back["reason"], back["deliveries"]) == (
        "rejected",
        "kvittens saknas",
        {"rejected": 2},
    )
    json_app.close()

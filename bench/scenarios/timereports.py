"""``timereports``: visits validated and stored per second through ``POST /api/v1/timereports``
in batches of 100.

The server is ``python -m hub serve --no-worker`` in a process of its own on a fresh sandbox
with the time-reporting world (``hub.demo.time_world``: a provider's app, its agreements);
the case-management double runs in a process of its own and answers the order lookups. Each
batch is the whole path: pydantic, every check (orders through the ``client_summary`` lookup
and its cache, times, the lock date, overlaps against stored visits by business keys), the
mapping onto ``timereport.visit`` v2 envelopes, the ingest pipeline's checks for each (XSD,
identity numbers, routing, agreement) and one all-or-nothing transaction storing them held
(encryption, business keys, audit). Every answer must be 202. Each visit has its own staff
member, so no batch is refused for overlaps; the provider's few seeded clients are asked of
the case system once each, then served from the order cache, as a real provider's are.
Baseline: ``GET /healthz`` as many times as visits were posted, from the same client threads.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path

import httpx

from bench.processes import child, child_env, free_port, printed_url, wait_http
from bench.report import Row
from bench.scenarios.http_ingest import _check, _healthz, _load
from bench.workload import Options, scratch_folder
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import TIMEREPORTS, case_destination
from hub.demo.time_world import (
    DISTRICT,
    JSON_APP,
    JSON_PROVIDER,
    home_care_orders,
    time_agreements,
    visit_json,
)
from hub.services.agreements import add_agreements, register_system
from hub.services.principal import Principal
from hub.services.timereport_approval import register_provider

BATCH = 100
UNUSED_URL = "http://127.0.0.1:9/messages"


def _prepare(home: Path, case_url: str) -> str:
    sandbox = Sandbox(home)
    sandbox.write_routes(
        {
            TIMEREPORTS: DestinationSpec("http", {"url": UNUSED_URL}),
            case_destination(DISTRICT): DestinationSpec("case-soap", {"url": case_url}),
        },
        [
            ("timereport.visit", "*", [TIMEREPORTS]),
            ("lookup.client_summary", DISTRICT, [case_destination(DISTRICT)]),
        ],
    )
    hub = sandbox.open()
    try:
        token = register_system(hub, JSON_APP, "benchmark (fictional)", actor="bench")
        add_agreements(hub, time_agreements(hub.clock(), [JSON_APP]), actor="bench")
        operator = Principal.operator("bench")
        register_provider(hub, operator, JSON_PROVIDER, system=JSON_APP, district=DISTRICT)
    finally:
        hub.close()
    return token


def batches(count: int, tag: str) -> list[dict[str, object]]:
    """``count`` batches of 100 visits to the provider's seeded clients, each by its own
    staff member, in the last day (never in a locked period)."""
    clients = cycle(home_care_orders(JSON_PROVIDER))
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=20)
    out: list[dict[str, object]] = []
    for b in range(count):
        visits = []
        for i in range(BATCH):
            client, order = next(clients)
            at = start + timedelta(minutes=(b * BATCH + i) % 600)
            visits.append(
                visit_json(client, order, at, staff=f"{tag}{b}-{i}", visit_id=f"{tag}{b}-{i}")
            )
        out.append({"batch_id": f"{tag}-{b}", "visits": visits})
    return out


def run(options: Options) -> list[Row]:
    say = options.progress
    n_batches = max(1, options.messages // BATCH)
    n, clients = n_batches * BATCH, options.clients
    row = Row("timereports", n, unit="visit")
    say(f"timereports: building {n_batches} batches of {BATCH} visits")
    load, warm = batches(n_batches, "b"), batches(2, "w")
    with scratch_folder("timereports") as folder:
        case_args = [sys.executable, "-m", "adapters.doubles.case_management_double", "--port", "0"]
        with child("case-double", case_args, child_env({}), folder) as case:
            case_url = printed_url(case, "the case-management double")
            token = _prepare(folder / "home", case_url)
            port = free_port()
            env = child_env(
                {"OMSORGSHUB_HOME": str(folder / "home"), "OMSORGSHUB_LOG_LEVEL": "WARNING"}
            )
            args = [sys.executable, "-m", "hub", "serve", "--no-worker", "--host", "127.0.0.1"]
            with child("api", [*args, "--port", str(port)], env, folder) as server:
                base = f"http://127.0.0.1:{port}"
                wait_http(server, base + "/healthz")
                say(f"timereports: baseline, GET /healthz x{n} from {clients} clients")
                row.baseline_seconds, bad = _load(base, clients, n, _healthz)
                _check(server, bad)
                headers = {"Authorization": f"Bearer {token}"}

                def post(c: httpx.Client, i: int, of: list[dict[str, object]]) -> int:
                    r = c.post("/api/v1/timereports", json=of[i], headers=headers)
                    return 0 if r.status_code == 202 else r.status_code

                _, bad = _load(base, clients, len(warm), lambda c, i: post(c, i, warm))
                _check(server, bad)
                say(f"timereports: POST {n_batches} batches of {BATCH} from {clients} clients")
                row.seconds, bad = _load(base, clients, n_batches, lambda c, i: post(c, i, load))
                _check(server, bad)
    row.notes.append(
        f"{clients} client threads posting batches of {BATCH} visits; server `python -m hub "
        "serve --no-worker` and the case-management double each in its own process; baseline "
        "one GET /healthz per visit"
    )
    return [row]

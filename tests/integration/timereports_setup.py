"""A hub with two providers' time-reporting apps, the case-management double and the Combine
double, each double a process of its own (``python -m adapters.doubles.…``).

The case double's seeded clients give the orders the checks read (``client_summary``); the
Combine double (``adapters.doubles.combine_double``) is the destination of
``timereport.visit`` v2 through the ``combine`` adapter and counts what it gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from hub.bootstrap import Hub
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import TIMEREPORTS
from hub.demo.time_world import (
    CSV_APP,
    CSV_PROVIDER,
    DISTRICT,
    JSON_APP,
    JSON_PROVIDER,
    time_agreements,
    visit_json,
)
from hub.services.agreements import add_agreements, register_system
from hub.services.principal import Principal
from hub.services.timereport_approval import register_provider
from tests.adapter_contract import double_process
from tests.integration.api_server import ServerThread, serve

COMBINE = TIMEREPORTS
OPERATOR = Principal.operator("operator:test")
FAST_RETRY = {"base_seconds": 0.1, "cap_seconds": 0.5, "max_attempts": 20}
visit = visit_json


def recent(hours_ago: float) -> datetime:
    """A whole minute ``hours_ago`` before now (in the current or an unlocked period)."""
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.replace(second=0, microsecond=0)


@dataclass
class TimeReporting:
    hub: Hub
    api: ServerThread
    combine_control: str
    tokens: dict[str, str]

    def client(self, system: str = JSON_APP) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[system]}"}
        return httpx.Client(base_url=self.api.url, headers=headers, timeout=30, trust_env=False)

    def report(
        self, visits: list[dict[str, Any]], system: str = JSON_APP, **batch: Any
    ) -> httpx.Response:
        with self.client(system) as c:
            return c.post("/api/v1/timereports", json={"visits": visits, **batch})

    def decide(
        self, batch_id: str, decision: str, system: str = JSON_APP, **body: Any
    ) -> httpx.Response:
        with self.client(system) as c:
            return c.post(f"/api/v1/timereports/batches/{batch_id}/{decision}", json=body)

    def batch(self, batch_id: str, system: str = JSON_APP) -> httpx.Response:
        with self.client(system) as c:
            return c.get(f"/api/v1/timereports/batches/{batch_id}")

    def combine_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = httpx.get(f"{self.combine_control}/_stats", trust_env=False).json()
        return stats


@contextmanager
def time_reporting(home: Path, database_url: str, **overrides: str) -> Iterator[TimeReporting]:
    with ExitStack() as stack:
        case_url, _ = stack.enter_context(
            double_process("case_management_double", "/case-management/1")
        )
        combine_url, combine_base = stack.enter_context(double_process("combine_double", ""))
        sandbox = Sandbox(home, database_url=database_url, overrides=overrides)
        sandbox.write_routes(
            {
                COMBINE: DestinationSpec(
                    "combine", {"base_url": combine_url, "timeout": 2}, FAST_RETRY
                ),
                "case-sodermalm": DestinationSpec("case-soap", {"url": case_url, "timeout": 3}),
            },
            [
                ("timereport.visit", "*", [COMBINE]),
                ("lookup.client_summary", DISTRICT, ["case-sodermalm"]),
            ],
        )
        hub = sandbox.open()
        stack.callback(hub.close)
        tokens = {
            app: register_system(hub, app, "time app (fictional)", "test")
            for app in (JSON_APP, CSV_APP)
        }
        add_agreements(hub, time_agreements(datetime.now(UTC), [JSON_APP, CSV_APP]), "test")
        register_provider(hub, OPERATOR, JSON_PROVIDER, system=JSON_APP, district=DISTRICT)
        register_provider(hub, OPERATOR, CSV_PROVIDER, system=CSV_APP, district=DISTRICT)
        api = serve(hub)
        stack.callback(api.stop)
        hub.start()
        yield TimeReporting(hub, api, combine_base, tokens)

"""A hub with two providers' time-reporting apps, the case-management double and a Combine-like
HTTP receiver, each double a process of its own (``python -m adapters.doubles.…``).

The case double's seeded clients give the orders the checks read (``client_summary``); the
HTTP double stands in for the destination of ``timereport.visit`` v2 and counts what it gets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from adapters.doubles.case_management_seed import SeededClient, SeededDecision, seed_clients
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.services.agreements import add_agreements, register_system
from hub.services.principal import Principal
from hub.services.timereport_approval import register_provider
from tests.adapter_contract import double_process
from tests.integration.api_server import ServerThread, serve

DISTRICT = "sdn-sodermalm"
JSON_APP, CSV_APP = "app-testvard", "app-exempla"
JSON_PROVIDER, CSV_PROVIDER = "prov-testvard", "prov-exempla-omsorg"
COMBINE = "combine-timereports"
OPERATOR = Principal.operator("operator:test")
FAST_RETRY = {"base_seconds": 0.1, "cap_seconds": 0.5, "max_attempts": 20}


def home_care_order(
    provider: str, *, double_staffing: bool | None = None
) -> tuple[SeededClient, SeededDecision]:
    """A seeded client of ``provider`` in the district with an open-ended, executed home-care
    order (with or without double staffing when asked)."""
    for client in seed_clients():
        if client.district != DISTRICT or client.provider.id != provider:
            continue
        for d in client.decisions:
            codes = {c for c, _ in d.interventions}
            if d.service[0] != "home_care" or d.valid_to is not None:
                continue
            if d.execution_state != "executed":
                continue
            if double_staffing is not None and ("double_staffing" in codes) != double_staffing:
                continue
            return client, d
    raise LookupError(f"no seeded client of {provider} fits")


def ordered_codes(decision: SeededDecision) -> list[str]:
    return [c for c, _ in decision.interventions if c != "double_staffing"]


def visit(
    client: SeededClient,
    decision: SeededDecision,
    start: datetime,
    *,
    minutes: int = 30,
    staff: str = "st-0001",
    **changes: Any,
) -> dict[str, Any]:
    """One visit in the JSON shape of ``POST /api/v1/timereports``."""
    out: dict[str, Any] = {
        "visit_id": f"v-{start:%Y%m%d%H%M}-{staff}",
        "staff_id": staff,
        "client": {"id": client.identity.formatted(), "scheme": client.identity.scheme},
        "order_id": decision.decision_id,
        "interventions": [{"code": ordered_codes(decision)[0], "minutes": minutes}],
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(minutes=minutes)).isoformat(),
        "actual_start": start.isoformat(),
        "actual_end": (start + timedelta(minutes=minutes)).isoformat(),
        "confirmation": "nfc_tag",
    }
    out.update(changes)
    return out


def recent(hours_ago: float) -> datetime:
    """A whole minute ``hours_ago`` before now (in the current or an unlocked period)."""
    moment = datetime.now(UTC) - timedelta(hours=hours_ago)
    return moment.replace(second=0, microsecond=0)


def _agreements(now: datetime) -> list[Agreement]:
    common: dict[str, Any] = dict(
        version=1,
        district=DISTRICT,
        controller_name="Södermalm stadsdelsnämnd (fictional)",
        dpo_contact="dataskydd@example.invalid",
        subject_categories=frozenset({"home-care clients"}),
        valid_from=now - timedelta(days=400),
        valid_to=None,
        retention_days=365,
        legal_reference="Dnr TEST-2026-13",
        purposes=frozenset({"time_reporting"}),
        consent_required=frozenset(),
    )
    out: list[Agreement] = []
    for app in (JSON_APP, CSV_APP):
        short = app.removeprefix("app-").upper()
        out.append(
            Agreement(
                id=f"PUB-SOD-TIME-{short}", processor=app, senders=frozenset({app}),
                recipients=frozenset({COMBINE}), message_types=frozenset({"timereport.visit"}),
                categories=frozenset({"identity", "time"}), **common,
            )
        )  # fmt: skip
        out.append(
            Agreement(
                id=f"PUB-SOD-ORDERS-{short}", processor=app, senders=frozenset({app}),
                recipients=frozenset({"case-sodermalm"}),
                message_types=frozenset({"lookup.client_summary"}),
                categories=frozenset({"identity", "case", "decisions", "fees"}), **common,
            )
        )  # fmt: skip
    return out


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
        combine_url, combine_base = stack.enter_context(double_process("http_double", "/messages"))
        sandbox = Sandbox(home, database_url=database_url, overrides=overrides)
        sandbox.write_routes(
            {
                COMBINE: DestinationSpec("http", {"url": combine_url, "timeout": 2}, FAST_RETRY),
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
        add_agreements(hub, _agreements(datetime.now(UTC)), "test")
        register_provider(hub, OPERATOR, JSON_PROVIDER, system=JSON_APP, district=DISTRICT)
        register_provider(hub, OPERATOR, CSV_PROVIDER, system=CSV_APP, district=DISTRICT)
        api = serve(hub)
        stack.callback(api.stop)
        hub.start()
        yield TimeReporting(hub, api, combine_base, tokens)

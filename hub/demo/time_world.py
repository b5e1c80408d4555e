"""The fictional world of time reporting (issue 13 §1), shared by the demo, ``bench/`` and the
tests: two providers' apps in Södermalm, their agreements (time reports to Combine, order
lookups at the district's case system), and visits to the case double's seeded clients.

Everything here is made up: the clients and orders are the case-management double's seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.doubles.case_management_seed import SeededClient, SeededDecision, seed_clients
from contracts.model import Agreement
from hub.demo.scenario import TIMEREPORTS, case_destination

DISTRICT = "sdn-sodermalm"
JSON_APP, CSV_APP = "app-testvard", "app-exempla"
JSON_PROVIDER, CSV_PROVIDER = "prov-testvard", "prov-exempla-omsorg"
PURPOSE = "time_reporting"


def time_agreements(
    now: datetime, apps: Sequence[str], district: str = DISTRICT
) -> list[Agreement]:
    """Per app: time reports to Combine, and the order lookups the checks make for it (the
    district's own order check of a provider it contracted: no individual consent asked)."""
    short = district.removeprefix("sdn-").upper()
    common: dict[str, Any] = dict(
        version=1,
        district=district,
        controller_name=f"{district.removeprefix('sdn-').capitalize()} stadsdelsnämnd (fictional)",
        dpo_contact="dataskydd@example.invalid",
        subject_categories=frozenset({"home-care clients"}),
        valid_from=now - timedelta(days=400),
        valid_to=None,
        retention_days=365,
        legal_reference="Dnr DEMO-2026-13",
        purposes=frozenset({PURPOSE}),
        consent_required=frozenset(),
    )
    out: list[Agreement] = []
    for app in apps:
        name = app.removeprefix("app-").upper()
        out.append(
            Agreement(
                id=f"PUB-{short}-TIME-{name}", processor=app, senders=frozenset({app}),
                recipients=frozenset({TIMEREPORTS}), message_types=frozenset({"timereport.visit"}),
                categories=frozenset({"identity", "time"}), **common,
            )
        )  # fmt: skip
        out.append(
            Agreement(
                id=f"PUB-{short}-ORDERS-{name}", processor=app, senders=frozenset({app}),
                recipients=frozenset({case_destination(district)}),
                message_types=frozenset({"lookup.client_summary"}),
                categories=frozenset({"identity", "case", "decisions", "fees"}), **common,
            )
        )  # fmt: skip
    return out


def home_care_orders(
    provider: str, *, district: str = DISTRICT, double_staffing: bool | None = None
) -> list[tuple[SeededClient, SeededDecision]]:
    """Seeded clients of ``provider`` with an open-ended, executed home-care order (with or
    without double staffing when asked)."""
    out = []
    for client in seed_clients():
        if client.district != district or client.provider.id != provider:
            continue
        for d in client.decisions:
            codes = {c for c, _ in d.interventions}
            if d.service[0] != "home_care" or d.valid_to is not None:
                continue
            if d.execution_state != "executed":
                continue
            if double_staffing is not None and ("double_staffing" in codes) != double_staffing:
                continue
            out.append((client, d))
    return out


def home_care_order(
    provider: str, *, double_staffing: bool | None = None
) -> tuple[SeededClient, SeededDecision]:
    found = home_care_orders(provider, double_staffing=double_staffing)
    if not found:
        raise LookupError(f"no seeded client of {provider} fits")
    return found[0]


def ordered_codes(decision: SeededDecision) -> list[str]:
    return [c for c, _ in decision.interventions if c != "double_staffing"]


def visit_json(
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


CSV_HEADER = "visit_id;staff_id;client;order_id;interventions;actual_start;actual_end;confirmation"


def csv_line(
    visit_id: str, staff: str, client: SeededClient, decision: SeededDecision,
    start: datetime, end: datetime, method: str = "code",
) -> str:  # fmt: skip
    """One row of a provider's CSV export (local times, as exports have them)."""
    return (
        f"{visit_id};{staff};{client.identity.formatted()};{decision.decision_id};"
        f"{ordered_codes(decision)[0]};{start:%Y-%m-%d %H:%M};{end:%Y-%m-%d %H:%M};{method}"
    )

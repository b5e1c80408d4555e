"""The demo's time-reporting step (issue 13 §1): two providers' own apps report visits through
the hub's one contract, the provider approves or rejects, only approved time reaches Combine.

Testvård's app posts a batch to ``POST /api/v1/timereports`` (a batch with one bad visit first:
refused as a whole, the visit named); Exempla's app exports a CSV file that is imported with
``omsorgshub timereports import`` (here its service). Both batches are held: Combine sees
nothing until Testvård's team leader approves its batch; Exempla's is rejected with a reason,
which its app reads back. Orders come from the case double's seeded clients (its
``GetClientSummary``), through the lookup the agreements allow.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import httpx

from adapters.doubles.combine_double import CombineDouble
from hub.bootstrap import Hub
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
from hub.errors import HubError
from hub.services.principal import Principal
from hub.services.timereport_approval import decide_batch, register_provider
from hub.services.timereport_import import import_csv

APPS = ((JSON_APP, "Testvård's own time app (JSON)"), (CSV_APP, "Exempla's time app (CSV)"))
OPERATOR = Principal.operator("operator:demo")

__all__ = ["APPS", "register_providers", "show_time_reports", "time_agreements"]


def register_providers(hub: Hub) -> None:
    register_provider(hub, OPERATOR, JSON_PROVIDER, system=JSON_APP, district=DISTRICT)
    register_provider(hub, OPERATOR, CSV_PROVIDER, system=CSV_APP, district=DISTRICT)


def show_time_reports(
    hub: Hub, client: httpx.Client, tokens: dict[str, str], home: Path, combine: CombineDouble
) -> bool:
    click.echo("\nTime reports from providers' own apps (one contract: timereport.visit v2):")
    try:
        return _show(hub, client, tokens, home, combine)
    except (HubError, httpx.HTTPError, KeyError, LookupError) as exc:
        click.echo(f"  the time-report step failed: {exc}")
        return False


def _show(
    hub: Hub, client: httpx.Client, tokens: dict[str, str], home: Path, combine: CombineDouble
) -> bool:
    before = combine.imported
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)
    orders = home_care_orders(JSON_PROVIDER)
    visits = [
        visit_json(*orders[i % len(orders)], start + timedelta(minutes=40 * i), staff="st-11")
        for i in range(3)
    ]
    auth = {"Authorization": f"Bearer {tokens[JSON_APP]}"}
    bad = [*visits[:1], {**visits[1], "actual_end": visits[1]["actual_start"]}, visits[2]]
    r = client.post("/api/v1/timereports", json={"visits": bad}, headers=auth)
    finding = r.json().get("findings", [{}])[0]
    click.echo(
        f"  {APPS[0][1]}: a batch of 3 with one bad visit: {r.status_code} {r.json()['reason']}"
        f" — {finding.get('detail')} [{finding.get('reason')}]; nothing stored"
    )
    r = client.post("/api/v1/timereports", json={"visits": visits}, headers=auth)
    batch = r.json()["batch_id"]
    time.sleep(1.0)
    click.echo(
        f"  the corrected batch: {r.status_code}, {r.json()['visits']} visits {r.json()['state']};"
        f" Combine got {combine.imported - before} of them"
    )
    r = client.post(
        f"/api/v1/timereports/batches/{batch}/approve", json={"by": "tl-17"}, headers=auth
    )
    deadline = time.monotonic() + 20
    while combine.imported - before < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    forwarded = combine.imported - before
    click.echo(f"  approved by the team leader ({r.json()['decided_by']}): Combine got {forwarded}")

    csv_file = home / "exempla-export.csv"
    zone = ZoneInfo(hub.settings.time_zone)
    rows = [
        csv_line(f"e-{i}", f"ex-{i}", *pair, (start + timedelta(hours=i)).astimezone(zone),
                 (start + timedelta(hours=i, minutes=25)).astimezone(zone))
        for i, pair in enumerate(home_care_orders(CSV_PROVIDER)[:2])
    ]  # fmt: skip
    csv_file.write_text("\n".join([CSV_HEADER, *rows]) + "\n", encoding="utf-8")
    receipt = import_csv(hub, OPERATOR, csv_file, provider=CSV_PROVIDER)
    click.echo(
        f"  {APPS[1][1]}: `timereports import {csv_file.name}`: {receipt.visits} visits held"
    )
    decide_batch(
        hub, OPERATOR, receipt.batch_id, "reject", provider=CSV_PROVIDER, by="tl-3",
        reason="besöken saknar kvittens; rapportera om",
    )  # fmt: skip
    shown = client.get(
        f"/api/v1/timereports/batches/{receipt.batch_id}",
        headers={"Authorization": f"Bearer {tokens[CSV_APP]}"},
    ).json()
    click.echo(
        f"  rejected; its app reads back: {shown['state']} — {shown['reason']!r}; "
        f"deliveries {shown['deliveries']}; Combine got {combine.imported - before - forwarded}"
    )
    return forwarded == 3 and shown["state"] == "rejected" and combine.imported - before == 3

"""``omsorgshub demo``: the whole hub on the embedded default, with local doubles, in one command.

It makes a fresh demo data folder (``<home>/demo``), creates keys, the database, three city
districts' agreements, two sending systems and the routing table; starts the HTTP API, the
embedded worker and an HTTP double per destination on 127.0.0.1; sends a realistic stream of
case referrals (the contact centre) and visit time reports (a home-care app) over HTTP; takes
one district's case system down for a while so retries and recovery show; and prints, per
destination, sent / delivered / retried / dead and p50/p99 latency. It also shows a refusal
for a message outside any agreement, verifies the audit trail and prints a subject's extract.
Exits 0 when every accepted message was delivered and the audit verifies.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import click

from adapters.doubles.http_double import HttpDouble
from contracts.model import Agreement
from hub.cli import CliContext, pass_ctx
from hub.delivery import AttemptOutcome
from hub.sandbox import DestinationSpec, Sandbox

DISTRICTS = ("sdn-sodermalm", "sdn-kungsholmen", "sdn-farsta")
CONTACT_CENTRE = "aldre-direkt"
TIME_APP = "phoniro-care"
_MARKER = ".omsorgshub-demo"


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    latency: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def outcome(self, o: AttemptOutcome) -> None:
        with self.lock:
            if o.state.value == "delivered":
                self.delivered[o.destination] += 1
                self.latency.setdefault(o.destination, []).append(o.latency_seconds or 0.0)
            elif o.state.value == "retrying":
                self.retried[o.destination] += 1
            elif o.state.is_final:
                self.dead[o.destination] += 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _fresh_home(home: Path) -> None:
    if home.exists():
        if not (home / _MARKER).exists():
            raise click.ClickException(f"{home} exists and is not a demo folder; not touching it")
        shutil.rmtree(home)
    home.mkdir(parents=True)
    (home / _MARKER).write_text("made by omsorgshub demo; deleted by the next demo run\n")


DEMO_RETRY = {"base_seconds": 0.2, "cap_seconds": 1.5, "max_attempts": 30}


def demo_destinations(doubles: dict[str, HttpDouble]) -> dict[str, DestinationSpec]:
    return {
        name: DestinationSpec("http", {"url": double.url, "timeout": 2}, DEMO_RETRY)
        for name, double in doubles.items()
    }


def demo_routes() -> list[tuple[str, str, list[str]]]:
    routes = [
        ("case.referral", district, [f"case-{district.removeprefix('sdn-')}"])
        for district in DISTRICTS
    ]
    routes.append(("timereport.visit", "*", ["combine-timereports"]))
    return routes


def demo_agreements(now: datetime) -> list[Agreement]:
    out = []
    for i, district in enumerate(DISTRICTS, start=1):
        short = district.removeprefix("sdn-")
        common = dict(
            district=district,
            controller_name=f"{short.capitalize()} stadsdelsnämnd (fictional)",
            dpo_contact=f"dataskydd.{short}@example.invalid",
            subject_categories=frozenset({"elderly care clients"}),
            valid_from=now - timedelta(days=30),
            valid_to=now + timedelta(days=365),
            retention_days=365 * 2,
            legal_reference=f"Dnr DEMO-2026-{100 + i}",
        )
        out.append(
            Agreement(
                id=f"PUB-{short.upper()}-REFERRALS",
                version=1,
                processor=CONTACT_CENTRE,
                senders=frozenset({CONTACT_CENTRE}),
                recipients=frozenset({f"case-{short}"}),
                purposes=frozenset({"referral"}),
                message_types=frozenset({"case.referral"}),
                categories=frozenset({"identity", "contact", "case"}),
                **common,  # type: ignore[arg-type]
            )
        )
        out.append(
            Agreement(
                id=f"PUB-{short.upper()}-TIME",
                version=1,
                processor=TIME_APP,
                senders=frozenset({TIME_APP}),
                recipients=frozenset({"combine-timereports"}),
                purposes=frozenset({"time_reporting"}),
                message_types=frozenset({"timereport.visit"}),
                categories=frozenset({"identity", "time"}),
                **common,  # type: ignore[arg-type]
            )
        )
    return out


@click.command("demo")
@click.option("--referrals", type=click.IntRange(1, 100_000), default=300, show_default=True)
@click.option("--visits", type=click.IntRange(0, 100_000), default=200, show_default=True)
@click.option(
    "--outage",
    type=click.FloatRange(0, 600),
    default=3.0,
    show_default=True,
    help="Seconds the Kungsholmen case system is down during the stream.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0, 100_000),
    default=150,
    show_default=True,
    help="Messages per second to send (0: as fast as the hub takes them).",
)
@click.option("--serve", "keep_serving", is_flag=True, help="Keep running after the summary.")
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=120,
    show_default=True,
    help="Give up waiting for deliveries after this many seconds.",
)
@pass_ctx
def demo_command(
    obj: CliContext,
    referrals: int,
    visits: int,
    outage: float,
    rate: float,
    keep_serving: bool,
    timeout: float,
) -> None:
    """Run the whole hub locally with fictional data and print what happened."""
    from hub.demo_run import DemoRun

    base = obj.settings.home
    home = base / "demo"
    _fresh_home(home)
    run = DemoRun(Sandbox(home), Tally())
    ok = run.run(
        referrals=referrals,
        visits=visits,
        outage=outage,
        rate=rate,
        timeout=timeout,
        serve=keep_serving,
    )
    if not ok:
        raise SystemExit(1)

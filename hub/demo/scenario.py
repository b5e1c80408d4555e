"""The demo's fixed world: districts, systems, destinations, routes and agreements.

Shared by the demo command, its run (``hub.demo.run``), the benchmarks and the tests, so they all
exercise the same agreements and routes.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from contracts.model import DEFAULT_CONSENT_REQUIRED, Agreement
from hub.demo.sandbox import DestinationSpec
from hub.outbox.delivery import AttemptOutcome

if TYPE_CHECKING:  # the doubles are imported by the run (hub.demo.run), not by this module
    pass

DISTRICTS = ("sdn-sodermalm", "sdn-kungsholmen", "sdn-farsta")
CONTACT_CENTRE = "aldre-direkt"
TIME_APP = "phoniro-care"
EXECUTION_APP = "lifecare"  # providers' execution reporting (Lifecare)
CASE_SYSTEM = "paraplyet"  # the districts' case system, sending payment vouchers
TIMEREPORTS = "combine-timereports"
FINANCE = "finance-ubw"
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


def case_destination(district: str) -> str:
    """``sdn-sodermalm`` -> ``case-sodermalm``: the district's case system as a destination."""
    return f"case-{district.removeprefix('sdn-')}"


def demo_destinations(
    *, case_url: str, timereport_url: str, ubw: Mapping[str, object]
) -> dict[str, DestinationSpec]:
    """Every destination of the demo: the case system per district (SOAP), Combine (REST/JSON
    import) and UBW (SOAP; ``ubw`` holds its url, username, client, password and template_id)."""
    out = {
        case_destination(d): DestinationSpec(
            "case-soap", {"url": case_url, "timeout": 2}, DEMO_RETRY
        )
        for d in DISTRICTS
    }
    out[TIMEREPORTS] = DestinationSpec(
        "combine", {"base_url": timereport_url, "timeout": 2}, DEMO_RETRY
    )
    out[FINANCE] = DestinationSpec("ubw", {**ubw, "timeout": 2}, DEMO_RETRY)
    return out


def demo_routes() -> list[tuple[str, str, list[str]]]:
    routes = [
        ("case.referral", district, [f"case-{district.removeprefix('sdn-')}"])
        for district in DISTRICTS
    ]
    routes.append(("timereport.visit", "*", ["combine-timereports"]))
    return routes


def flow_routes() -> list[tuple[str, str, list[str]]]:
    """Routes of the case-management and finance flows and of the lookups (beside
    :func:`demo_routes`)."""
    routes: list[tuple[str, str, list[str]]] = []
    for district in DISTRICTS:
        routes.append(("case.execution_event", district, [case_destination(district)]))
        routes.append(("lookup.client_summary", district, [case_destination(district)]))
    for message_type in ("finance.payment", "finance.deferral", "lookup.invoice_status"):
        routes.append((message_type, "*", [FINANCE]))
    return routes


def _common(now: datetime, district: str, number: int) -> dict[str, object]:
    short = district.removeprefix("sdn-")
    return dict(
        district=district,
        controller_name=f"{short.capitalize()} stadsdelsnämnd (fictional)",
        dpo_contact=f"dataskydd.{short}@example.invalid",
        subject_categories=frozenset({"elderly care clients"}),
        valid_from=now - timedelta(days=30),
        valid_to=now + timedelta(days=365),
        retention_days=365 * 2,
        legal_reference=f"Dnr DEMO-2026-{number}",
    )


def flow_agreements(now: datetime) -> list[Agreement]:
    """Agreements of the case-management and finance flows and the lookups, per district.

    Execution events and payment vouchers pass between the district's own systems under its
    own authority, so no individual's consent is asked for (``consent_required`` empty). The
    contact centre's lookups and deferrals keep the default: decisions, fees and invoices of
    an individual only with the person's recorded consent.
    """
    out = []
    for i, district in enumerate(DISTRICTS, start=1):
        case = case_destination(district)
        out += _agreements(_common(now, district, 200 + i), [
            ("EXECUTION", EXECUTION_APP, case, {"execution_reporting"}, {"case.execution_event"},
             {"identity", "case", "decisions"}, frozenset()),
            ("PAYMENTS", CASE_SYSTEM, FINANCE, {"assistance_payment"}, {"finance.payment"},
             {"identity", "decisions", "fees"}, frozenset()),
            ("CLIENT-LOOKUPS", CONTACT_CENTRE, case, {"client_question"}, {"lookup.client_summary"},
             {"identity", "case", "decisions", "fees"}, DEFAULT_CONSENT_REQUIRED),
            # the contact centre's invoice service: status questions and deferrals
            ("INVOICES", CONTACT_CENTRE, FINANCE, {"invoice_question", "payment_deferral"},
             {"lookup.invoice_status", "finance.deferral"}, {"identity", "invoices"},
             DEFAULT_CONSENT_REQUIRED),
        ])  # fmt: skip
    return out


def demo_agreements(now: datetime) -> list[Agreement]:
    """The referral and time-reporting agreements of the three districts (see
    :func:`flow_agreements` for the rest of the demo's)."""
    out = []
    for i, district in enumerate(DISTRICTS, start=1):
        short = district.removeprefix("sdn-")
        out += _agreements(_common(now, district, 100 + i), [
            ("REFERRALS", CONTACT_CENTRE, f"case-{short}", {"referral"}, {"case.referral"},
             {"identity", "contact", "case"}, DEFAULT_CONSENT_REQUIRED),
            ("TIME", TIME_APP, "combine-timereports", {"time_reporting"}, {"timereport.visit"},
             {"identity", "time"}, DEFAULT_CONSENT_REQUIRED),
        ])  # fmt: skip
    return out


# name, sender (also the processor), recipient, purposes, message types, categories, consent
# required
_Row = tuple[str, str, str, set[str], set[str], set[str], frozenset[str]]


def _agreements(common: dict[str, object], rows: list[_Row]) -> list[Agreement]:
    """One agreement of version 1 per row, ``PUB-<DISTRICT>-<name>``, on ``common`` terms."""
    short = str(common["district"]).removeprefix("sdn-").upper()
    return [
        Agreement(
            id=f"PUB-{short}-{name}",
            version=1,
            processor=sender,
            senders=frozenset({sender}),
            recipients=frozenset({recipient}),
            purposes=frozenset(purposes),
            message_types=frozenset(message_types),
            categories=frozenset(categories),
            consent_required=consent,
            **common,  # type: ignore[arg-type]
        )
        for name, sender, recipient, purposes, message_types, categories, consent in rows
    ]


CONSENT = "verbal consent recorded in case AD-2026-004711 (fictional)"
# The deliberate failure: a deferral longer than the contact centre's delegation of 30 days.
TOO_LONG_DAYS = 31
TOO_LONG_REASON = "deferral_too_long"

"""``omsorgshub demo``: the whole hub on the embedded default, with local doubles, in one command.

It makes a fresh demo data folder (``<home>/demo``), creates keys, the database, three city
districts' agreements, four sending systems and the routing table; starts the HTTP API, the
embedded worker and the local doubles on 127.0.0.1: the districts' case system (SOAP, one
``CaseManagementDouble`` behind ``case-sodermalm``, ``case-kungsholmen`` and ``case-farsta``),
Pulsen Combine (an ``HttpDouble``) and Unit4 Business World (``UbwDouble``). Over HTTP it sends
a realistic stream: case referrals from the contact centre and execution events from Lifecare
to the case systems, visit reports from a home-care app to Combine, personal-assistance payment
vouchers from the case system and payment deferrals from the contact centre to UBW (one of 31
days, beyond the contact centre's delegation, which the finance adapter refuses: it ends
``dead`` with the reason, on purpose). It takes the case system down for a while so retries and
recovery show; prints, per destination, sent / delivered / retried / dead and p50/p99 latency;
shows refusals; lets the contact centre look up a client summary and an invoice status (and
be refused one without consent); verifies the audit trail and prints the looked-up person's
extract. Exits 0 when every accepted message was delivered (but the deliberate one, which must
be dead for the right reason), the lookups answered as expected and the audit verifies.
"""

from __future__ import annotations

import random
import shutil
import socket
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from contracts.model import DEFAULT_CONSENT_REQUIRED, Agreement
from hub.cli import CliContext, pass_ctx
from hub.delivery import AttemptOutcome
from hub.fictional import (
    PROVIDERS,
    FictionalPerson,
    build_envelope,
    deferral_body,
    execution_event_body,
    payment_body,
    referral_body,
    visit_body,
)
from hub.identity import IdentityNumber, parse_identity
from hub.sandbox import DestinationSpec, Sandbox

if TYPE_CHECKING:  # the doubles are imported by the run (hub.demo_run), not by this module
    from adapters.doubles.case_management_double import SeededClient, SeededDecision
    from adapters.doubles.ubw_double import Invoice

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
    """Every destination of the demo: the case system per district (SOAP), Combine (HTTP) and
    UBW (SOAP; ``ubw`` holds its url, username, client, password and template_id)."""
    out = {
        case_destination(d): DestinationSpec(
            "case-soap", {"url": case_url, "timeout": 2}, DEMO_RETRY
        )
        for d in DISTRICTS
    }
    out[TIMEREPORTS] = DestinationSpec("http", {"url": timereport_url, "timeout": 2}, DEMO_RETRY)
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
        short = district.removeprefix("sdn-")
        case = case_destination(district)
        common = _common(now, district, 200 + i)
        flows = [
            ("EXECUTION", EXECUTION_APP, case, "execution_reporting", "case.execution_event",
             {"identity", "case", "decisions"}, frozenset()),
            ("PAYMENTS", CASE_SYSTEM, FINANCE, "assistance_payment", "finance.payment",
             {"identity", "decisions", "fees"}, frozenset()),
            ("CLIENT-LOOKUPS", CONTACT_CENTRE, case, "client_question", "lookup.client_summary",
             {"identity", "case", "decisions", "fees"}, DEFAULT_CONSENT_REQUIRED),
        ]  # fmt: skip
        for name, sender, recipient, purpose, message_type, categories, consent in flows:
            out.append(
                Agreement(
                    id=f"PUB-{short.upper()}-{name}",
                    version=1,
                    processor=sender,
                    senders=frozenset({sender}),
                    recipients=frozenset({recipient}),
                    purposes=frozenset({purpose}),
                    message_types=frozenset({message_type}),
                    categories=frozenset(categories),
                    consent_required=consent,
                    **common,  # type: ignore[arg-type]
                )
            )
        out.append(  # the contact centre's invoice service: status questions and deferrals
            Agreement(
                id=f"PUB-{short.upper()}-INVOICES",
                version=1,
                processor=CONTACT_CENTRE,
                senders=frozenset({CONTACT_CENTRE}),
                recipients=frozenset({FINANCE}),
                purposes=frozenset({"invoice_question", "payment_deferral"}),
                message_types=frozenset({"lookup.invoice_status", "finance.deferral"}),
                categories=frozenset({"identity", "invoices"}),
                **common,  # type: ignore[arg-type]
            )
        )
    return out


def demo_agreements(now: datetime) -> list[Agreement]:
    """The referral and time-reporting agreements of the three districts (see
    :func:`flow_agreements` for the rest of the demo's)."""
    out = []
    for i, district in enumerate(DISTRICTS, start=1):
        short = district.removeprefix("sdn-")
        common = _common(now, district, 100 + i)
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


CONSENT = "verbal consent recorded in case AD-2026-004711 (fictional)"
# The deliberate failure: a deferral longer than the contact centre's delegation of 30 days.
TOO_LONG_DAYS = 31
TOO_LONG_REASON = "deferral_too_long"


@dataclass(frozen=True)
class Outgoing:
    token: str
    body: bytes
    label: str
    dead_reason: str | None = None  # set for a message meant to end dead, for this reason


class DemoStream:
    """The messages the demo sends, in a shuffled order, as the systems would send them.

    Made from fictional people, the case double's seeded clients (execution events and
    payments name their real decisions, which the case system checks) and the finance double's
    seeded invoices (deferrals are of the test identity's open invoices).
    """

    def __init__(
        self,
        rng: random.Random,
        people: Iterator[FictionalPerson],
        clients: Sequence[SeededClient],
        invoices: Sequence[Invoice],
        tokens: Mapping[str, str],
    ) -> None:
        self.rng, self.people, self.clients, self.tokens = rng, people, clients, tokens
        self.open_invoices = [i for i in invoices if i.balance > 0]
        self.assistance = [
            (c, d)
            for c in clients
            if c.identity.scheme == "se"
            for d in c.decisions
            if d.service[0] == "personal_assistance"
        ]
        if not self.assistance or len(self.open_invoices) < 2:
            raise click.ClickException("the doubles' seeds lack assistance clients or invoices")

    def looked_up(self) -> tuple[SeededClient, SeededDecision]:
        """The client the contact centre asks about: the first with personal assistance."""
        return self.assistance[0]

    def build(self, referrals: int, visits: int, events: int, payments: int) -> list[Outgoing]:
        out = [self._referral(i) for i in range(referrals)]
        out += [self._visit(i) for i in range(visits)]
        out += [self._event(i) for i in range(events)]
        out += [self._payment(i) for i in range(payments)]
        out += self._deferrals()
        self.rng.shuffle(out)
        return out

    def _outgoing(
        self,
        sender: str,
        kind: tuple[str, str, str],  # message type, purpose, label
        district: str,
        body: bytes,
        message_id: str,
        identity: IdentityNumber,
        consent: str | None = None,
        dead_reason: str | None = None,
    ) -> Outgoing:
        data = build_envelope(
            message_type=kind[0],
            version="1",
            district=district,
            purpose=kind[1],
            body=body,
            message_id=message_id,
            consent=consent,
            subjects=((identity.scheme, identity.formatted()),),
        )
        return Outgoing(self.tokens[sender], data, kind[2], dead_reason)

    def _referral(self, i: int) -> Outgoing:
        district, person = DISTRICTS[i % len(DISTRICTS)], next(self.people)
        body = referral_body(person, district, self.rng)
        kind = ("case.referral", "referral", "referral")
        return self._outgoing(CONTACT_CENTRE, kind, district, body, f"AD-{i:06d}", person.identity)

    def _visit(self, i: int) -> Outgoing:
        district, person = DISTRICTS[i % len(DISTRICTS)], next(self.people)
        body = visit_body(person, PROVIDERS[i % len(PROVIDERS)], self.rng)
        kind = ("timereport.visit", "time_reporting", "visit")
        return self._outgoing(TIME_APP, kind, district, body, f"PH-{i:06d}", person.identity)

    def _event(self, i: int) -> Outgoing:
        """On a seeded decision; the first on the looked-up client's, so the extract shows it."""
        if i == 0:
            client, decision = self.looked_up()
        else:
            client = self.rng.choice(self.clients)
            decision = self.rng.choice(client.decisions)
        body = execution_event_body(
            _person_of(client),
            self.rng,
            decision_id=decision.decision_id,
            law=decision.law,
            decision_date=decision.decision_date,
        )
        kind = ("case.execution_event", "execution_reporting", "execution event")
        number = f"LC-{i:06d}"
        return self._outgoing(EXECUTION_APP, kind, client.district, body, number, client.identity)

    def _payment(self, i: int) -> Outgoing:
        client, decision = self.assistance[i % len(self.assistance)]
        body = payment_body(
            _person_of(client),
            self.rng,
            decision_id=decision.decision_id,
            granted_hours=decision.granted_hours_per_month,
        )
        kind = ("finance.payment", "assistance_payment", "payment")
        number = f"PA-{i:06d}"
        return self._outgoing(CASE_SYSTEM, kind, client.district, body, number, client.identity)

    def _deferrals(self) -> list[Outgoing]:
        """Two within the delegation and one of 31 days that the finance adapter refuses."""
        partly, unpaid = self.open_invoices[0], self.open_invoices[-1]
        wishes = [
            (partly, partly.invoice_number, None, 14),
            (unpaid, None, unpaid.ocr, 30),
            (unpaid, unpaid.invoice_number, unpaid.ocr, TOO_LONG_DAYS),
        ]
        out = []
        for i, (invoice, number, ocr, days) in enumerate(wishes):
            payer = parse_identity(invoice.payer)
            body = deferral_body(number, ocr, payer, days, self.rng)
            kind = ("finance.deferral", "payment_deferral", f"{days}-day deferral")
            meant_dead = TOO_LONG_REASON if days > 30 else None
            key = f"AD-D-{i:06d}"
            sender, district = CONTACT_CENTRE, DISTRICTS[0]
            out.append(
                self._outgoing(sender, kind, district, body, key, payer, CONSENT, meant_dead)
            )
        return out


def _person_of(client: SeededClient) -> FictionalPerson:
    given, _, family = client.name.partition(" ")
    return FictionalPerson(given, family, client.identity)


@click.command("demo")
@click.option(
    "--referrals",
    type=click.IntRange(1, 100_000),
    default=300,
    show_default=True,
    help="Case referrals from the contact centre to the districts' case systems.",
)
@click.option(
    "--visits",
    type=click.IntRange(0, 100_000),
    default=200,
    show_default=True,
    help="Visit time reports from the home-care app to Pulsen Combine.",
)
@click.option(
    "--events",
    type=click.IntRange(0, 100_000),
    default=60,
    show_default=True,
    help="Execution events of SoL/LSS decisions from Lifecare to the case systems.",
)
@click.option(
    "--payments",
    type=click.IntRange(0, 100_000),
    default=30,
    show_default=True,
    help="Personal-assistance payment vouchers from the case system to UBW.",
)
@click.option(
    "--outage",
    type=click.FloatRange(0, 600),
    default=3.0,
    show_default=True,
    help="Seconds the districts' case system (SOAP, behind every case-* destination) is down "
    "during the stream.",
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
    events: int,
    payments: int,
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
        events=events,
        payments=payments,
        outage=outage,
        rate=rate,
        timeout=timeout,
        serve=keep_serving,
    )
    if not ok:
        raise SystemExit(1)

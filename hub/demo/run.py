"""The demo's run: set up, start everything on 127.0.0.1, send, disturb, wait, report.

Kept apart from ``hub.demo.command`` (the command and the demo's fixed data) so each stays readable.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import click
import httpx
import uvicorn

from adapters.doubles.case_management_double import CaseManagementDouble
from adapters.doubles.http_double import HttpDouble
from adapters.doubles.ubw_double import UbwDouble, seed_invoices
from audit.report import subject_report, to_csv
from audit.signing import load_verifier
from audit.trail import load_checkpoints
from audit.verify import load_entries, verify
from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import (
    CASE_SYSTEM,
    CONSENT,
    CONTACT_CENTRE,
    DISTRICTS,
    EXECUTION_APP,
    FINANCE,
    TIME_APP,
    TIMEREPORTS,
    TOO_LONG_DAYS,
    Tally,
    case_destination,
    demo_agreements,
    demo_destinations,
    demo_routes,
    flow_agreements,
    flow_routes,
    free_port,
    percentile,
)
from hub.demo.stream import (
    DemoStream,
    Outgoing,
)
from hub.ingest.identity import parse_identity
from hub.services.agreements import add_agreements, register_system
from hub.storage import messages as message_rows

UBW_PASSWORD = "demo-losenord-fiktivt"  # noqa: S105  # the demo double's made-up password


@dataclass(frozen=True)
class Doubles:
    case: CaseManagementDouble
    combine: HttpDouble
    ubw: UbwDouble

    def saw(self, destination: str) -> int:
        """What the destination's double stored, once per idempotency key."""
        if destination == TIMEREPORTS:
            return self.combine.unique
        if destination == FINANCE:
            stats = self.ubw.stats()
            counts = [stats["vouchers"], stats["deferrals"]]
            return sum(n for n in counts if isinstance(n, int))
        stored = [*self.case.referrals().values(), *self.case.execution_events().values()]
        return sum(1 for s in stored if case_destination(s.logical_address) == destination)


class DemoRun:
    def __init__(self, sandbox: Sandbox, tally: Tally, seed: int = 2026) -> None:
        self.sandbox = sandbox
        self.settings = sandbox.settings()
        self.tally = tally
        self.rng = random.Random(seed)
        self.people = iter(FictionalPeople(seed))
        self.doubles: Doubles | None = None
        self.stream: DemoStream | None = None
        self.server: uvicorn.Server | None = None
        self.hub: Hub | None = None
        self.destinations: list[str] = []
        self.meant_dead: list[tuple[str, str, str]] = []  # (message id, destination, reason)
        self.meant_dead_lock = threading.Lock()

    # -- set-up ---------------------------------------------------------------------------------
    def _start_doubles(self) -> Doubles:
        case, combine, ubw = CaseManagementDouble(), HttpDouble(), UbwDouble(password=UBW_PASSWORD)
        started: list[Any] = []
        try:
            for double in (case, combine, ubw):
                double.start()
                started.append(double)
        except BaseException:
            for double in started:
                double.stop()
            raise
        self.doubles = Doubles(case, combine, ubw)
        return self.doubles

    def _start(self) -> tuple[Hub, dict[str, str], str]:
        doubles = self._start_doubles()
        ubw = {
            "url": doubles.ubw.url,
            "username": doubles.ubw.username,
            "client": doubles.ubw.client,
            "password": UBW_PASSWORD,
            "template_id": doubles.ubw.template_id,
        }
        destinations = demo_destinations(
            case_url=doubles.case.url, timereport_url=doubles.combine.url, ubw=ubw
        )
        self.destinations = list(destinations)
        self.sandbox.write_routes(destinations, demo_routes() + flow_routes())
        click.echo(
            "  doubles on 127.0.0.1: the districts' case system (SOAP, "
            f"{len(doubles.case.seeded)} seeded clients), Pulsen Combine (REST), "
            "Unit4 Business World (SOAP, seeded invoices)"
        )
        hub = self.sandbox.open()
        self.hub = hub
        click.echo("  keys, audit signing key and database initialized")
        hub.on_outcome(self.tally.outcome)
        tokens = {
            name: register_system(hub, name, f"{text} (demo)", actor="demo")
            for name, text in [
                (CONTACT_CENTRE, "contact centre"),
                (TIME_APP, "home-care app"),
                (EXECUTION_APP, "providers' execution reporting"),
                (CASE_SYSTEM, "case system, payments"),
            ]
        }
        agreements = demo_agreements(hub.clock()) + flow_agreements(hub.clock())
        stored = add_agreements(hub, agreements, actor="demo")
        click.echo(
            f"  {len(tokens)} systems and {len(stored)} agreements for {len(DISTRICTS)} "
            f"districts registered; {len(destinations)} destinations routed"
        )
        port = free_port()
        config = uvicorn.Config(
            create_app(hub), host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        threading.Thread(target=self.server.run, name="api", daemon=True).start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise click.ClickException("the API did not start within 10 s")
            time.sleep(0.02)
        hub.start()
        url = f"http://127.0.0.1:{port}"
        click.echo(f"  API on {url} (OpenAPI at {url}/openapi.json), embedded worker running")
        return hub, tokens, url

    # -- the run --------------------------------------------------------------------------------
    def run(
        self,
        *,
        referrals: int,
        visits: int,
        events: int,
        payments: int,
        outage: float,
        rate: float,
        timeout: float,
        serve: bool,
    ) -> bool:
        click.echo(f"Omsorgshub demo — data folder {self.settings.home}")
        counts = {"referrals": referrals, "visits": visits, "events": events, "payments": payments}
        try:
            hub, tokens, url = self._start()
            with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
                ok = self._run(hub, tokens, client, counts, outage, rate, timeout)
            if serve:
                click.echo(
                    f"\nServing on {url}; tokens: "
                    + ", ".join(f"{k}={v}" for k, v in tokens.items())
                    + ". Ctrl-C to stop."
                )
                try:
                    while True:
                        time.sleep(3600)
                except KeyboardInterrupt:
                    pass
            return ok
        finally:
            self._stop()

    def _run(
        self,
        hub: Hub,
        tokens: dict[str, str],
        client: httpx.Client,
        counts: dict[str, int],
        outage: float,
        rate: float,
        timeout: float,
    ) -> bool:
        assert self.doubles is not None
        self.stream = DemoStream(
            self.rng, self.people, self.doubles.case.seeded, seed_invoices(), tokens
        )
        stream = self.stream.build(**counts)
        pace = f" at {rate:g} msg/s" if rate else ""
        click.echo(
            f"\nSending over HTTP{pace}: {counts['referrals']} referrals (contact centre) and "
            f"{counts['events']} execution events (Lifecare) to the case systems, "
            f"{counts['visits']} visit reports to Pulsen Combine, {counts['payments']} "
            "assistance payments (case system) and 3 deferrals (contact centre, one of "
            f"{TOO_LONG_DAYS} days) to UBW; the case system goes down for {outage:g} s a third "
            "of the way in."
        )
        started = time.monotonic()
        errors = self._send(client, stream, rate, outage)
        ingest_seconds = time.monotonic() - started
        self._show_refusals(client, tokens)
        total = sum(self.tally.sent.values())
        done = self._wait(hub, total, timeout)
        kept = self._summary(hub, ingest_seconds, len(stream))
        kept = self._show_meant_dead(client, tokens[CONTACT_CENTRE]) and kept
        for e in errors[:5]:
            click.echo(f"  unexpected answer: {e}")
        answered = self._lookups(client, tokens[CONTACT_CENTRE])
        audit_ok = self._verify_and_report(hub)
        return done and kept and not errors and answered and audit_ok

    def _send(
        self, client: httpx.Client, stream: list[Outgoing], rate: float, outage: float
    ) -> list[str]:
        errors: list[str] = []
        started = time.monotonic()

        def send(numbered: tuple[int, Outgoing]) -> None:
            index, item = numbered
            if rate:  # a steady stream, as from real systems, not a burst
                time.sleep(max(0.0, started + index / rate - time.monotonic()))
            r = client.post(
                "/api/v1/messages",
                content=item.body,
                headers={
                    "Authorization": f"Bearer {item.token}",
                    "Content-Type": "application/xml",
                },
            )
            if r.status_code != 202:
                errors.append(f"{item.label}: {r.status_code} {r.json().get('reason')}")
                return
            answer = r.json()
            for d in answer["deliveries"]:
                with self.tally.lock:
                    self.tally.sent[d["destination"]] += 1
                if item.dead_reason is not None:
                    with self.meant_dead_lock:
                        self.meant_dead.append((answer["id"], d["destination"], item.dead_reason))

        third = len(stream) // 3
        with (
            ThreadPoolExecutor(8) as pool,
            click.progressbar(length=len(stream), label="  sending   ") as bar,
        ):
            for i, _ in enumerate(pool.map(send, enumerate(stream))):
                bar.update(1)
                if i == third and outage > 0:
                    self._outage(outage)
        return errors

    def _outage(self, seconds: float) -> None:
        assert self.doubles is not None
        double = self.doubles.case
        double.set_mode("down")
        timer = threading.Timer(seconds, double.set_mode, args=("up",))
        timer.daemon = True
        timer.start()

    def _show_refusals(self, client: httpx.Client, tokens: dict[str, str]) -> None:
        click.echo("\nWhat the hub refuses:")
        person = next(self.people)
        wrong_sender = referral_envelope(person, DISTRICTS[0], self.rng)
        hostile = (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
        )
        cases = [
            (
                "a referral sent by the time-reporting app (outside its agreement)",
                tokens[TIME_APP],
                wrong_sender,
            ),
            ("an XML document with an external entity", tokens[CONTACT_CENTRE], hostile),
        ]
        for label, token, body in cases:
            r = client.post(
                "/api/v1/messages",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
            )
            problem = r.json()
            click.echo(f"  {label}: {r.status_code} {problem.get('reason')} — {_short(problem)}")

    def _wait(self, hub: Hub, total: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        finished = 0
        with click.progressbar(length=total, label="  delivering") as bar:
            while True:
                with hub.reader.connect() as conn:
                    counts = message_rows.count_by_state(conn)
                now_finished = sum(
                    n
                    for states in counts.values()
                    for s, n in states.items()
                    if s in ("delivered", "dead", "refused")
                )
                bar.update(now_finished - finished)
                finished = now_finished
                if finished >= total:
                    return True
                if time.monotonic() > deadline:
                    click.echo(f"\n  gave up waiting after {timeout:g} s: {finished}/{total}")
                    return False
                time.sleep(0.2)

    # -- the report -----------------------------------------------------------------------------
    def _summary(self, hub: Hub, ingest_seconds: float, sent_messages: int) -> bool:
        """The table; True when every destination got what it was sent but the deliberate dead
        ones, and its double stored each delivered message once."""
        assert self.doubles is not None
        t = self.tally
        with hub.reader.connect() as conn:
            states = message_rows.count_by_state(conn)
        meant = Counter(destination for _, destination, _ in self.meant_dead)
        click.echo(
            f"\nIngest: {sent_messages} messages in {ingest_seconds:.1f} s "
            f"({sent_messages / max(ingest_seconds, 1e-9):.0f} msg/s over HTTP)\n"
        )
        head = f"  {'destination':<22}{'adapter':<11}{'sent':>6}{'delivered':>11}{'retried':>9}"
        click.echo(head + f"{'dead':>6}{'p50 ms':>9}{'p99 ms':>9}{'double saw':>12}")
        kinds = {TIMEREPORTS: "http", FINANCE: "ubw"}
        kept = True
        for name in self.destinations:
            lat = t.latency.get(name, [])
            delivered = states.get(name, {}).get("delivered", 0)
            dead = states.get(name, {}).get("dead", 0)
            saw = self.doubles.saw(name)
            click.echo(
                f"  {name:<22}{kinds.get(name, 'case-soap'):<11}{t.sent[name]:>6}{delivered:>11}"
                f"{t.retried[name]:>9}{dead:>6}{percentile(lat, 50) * 1000:>9.0f}"
                f"{percentile(lat, 99) * 1000:>9.0f}{saw:>12}"
            )
            if (delivered, dead, saw) != (t.sent[name] - meant[name], meant[name], delivered):
                kept = False
        if not kept:
            click.echo("  NOT ALL DELIVERED: a destination did not get exactly what it was sent")
        return kept

    def _show_meant_dead(self, client: httpx.Client, token: str) -> bool:
        """The contact centre asks what became of the deferral it was not allowed to grant."""
        ok = True
        for message_id, destination, reason in self.meant_dead:
            r = client.get(
                f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {token}"}
            )
            found = [d for d in r.json().get("deliveries", []) if d["destination"] == destination]
            state = found[0] if found else {}
            click.echo(
                f"  dead on purpose, the {TOO_LONG_DAYS}-day deferral to {destination}: "
                f"{state.get('state')} — {state.get('last_reason')}: {state.get('last_error')}"
            )
            ok = ok and (state.get("state"), state.get("last_reason")) == ("dead", reason)
        return ok

    def _lookups(self, client: httpx.Client, token: str) -> bool:
        """The contact centre answers callers: a client summary, an invoice's status, and one
        question the hub refuses because no consent was recorded."""
        click.echo("\nThe contact centre looks up (POST /api/v1/lookups):")
        assert self.stream is not None
        seeded, _ = self.stream.looked_up()
        unpaid = self.stream.open_invoices[-1]
        tolvan = {"id": parse_identity(unpaid.payer).formatted(), "scheme": "se"}
        questions: list[tuple[str, dict[str, object], tuple[int, str | None]]] = [
            (
                f"client summary in {seeded.district} (consent recorded)",
                {
                    "lookup": "client_summary",
                    "district": seeded.district,
                    "purpose": "client_question",
                    "subject": {"id": seeded.identity.formatted(), "scheme": "se"},
                    "consent": CONSENT,
                },
                (200, None),
            ),
            (
                "invoice status by OCR reference (consent recorded)",
                {
                    "lookup": "invoice_status",
                    "district": DISTRICTS[0],
                    "purpose": "invoice_question",
                    "subject": tolvan,
                    "params": {"ocr": unpaid.ocr},
                    "consent": CONSENT,
                },
                (200, None),
            ),
            (
                "invoice status without recorded consent",
                {
                    "lookup": "invoice_status",
                    "district": DISTRICTS[0],
                    "purpose": "invoice_question",
                    "subject": tolvan,
                    "params": {"invoice_number": unpaid.invoice_number},
                },
                (403, "consent_missing"),
            ),
        ]
        ok = True
        for label, question, expected in questions:
            r = client.post(
                "/api/v1/lookups", json=question, headers={"Authorization": f"Bearer {token}"}
            )
            answer = r.json()
            if r.status_code == 200:
                click.echo(f"  {label}: 200 — {_describe(answer['data'])}")
            else:
                click.echo(f"  {label}: {r.status_code} {answer.get('reason')} — {_short(answer)}")
            ok = ok and (r.status_code, answer.get("reason")) == expected
        return ok

    def _verify_and_report(self, hub: Hub) -> bool:
        hub.relay.checkpoint_if_due(force=True)
        with hub.reader.connect() as conn:
            report = verify(
                load_entries(conn),
                load_checkpoints(conn),
                load_verifier(self.settings.audit_public_key_file),
            )
        state = "verifies" if report.ok else f"FAILS at entry {report.first_bad_seq}"
        click.echo(
            f"\nAudit trail: {report.entries_checked} entries, "
            f"{report.checkpoints_checked} signed checkpoints — {state}"
        )
        assert self.stream is not None
        client, _ = self.stream.looked_up()
        ref = hub.guards.hmacs.subject_ref(client.identity.canonical)
        with hub.reader.connect() as conn:
            extract = subject_report(conn, ref)
        header, *rows = to_csv(extract).splitlines()
        actions = Counter(row.split(",", 2)[1] for row in rows)
        listing = ", ".join(f"{action} {n}" for action, n in actions.items())
        click.echo(
            f"Art. 15 extract for the looked-up (fictional) person, {client.name}: "
            f"{len(rows)} accesses ({listing})"
        )
        shown = rows[:3] + [row for row in rows[3:] if row.split(",", 2)[1] == "queried"]
        for line in [header, *shown]:
            click.echo(f"  {line}")
        return report.ok

    def _stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.hub is not None:
            self.hub.close()
        if self.doubles is not None:
            for double in (self.doubles.case, self.doubles.combine, self.doubles.ubw):
                double.stop()


def _short(problem: dict[str, Any]) -> str:
    """A refusal's detail without its list of the other agreements that did not fit."""
    return str(problem.get("detail")).split(" (also ", 1)[0]


def _describe(data: dict[str, Any]) -> str:
    """One line of a lookup's answer: names and states, no identity numbers."""
    if not data.get("found"):
        return "nothing found"
    if "decisions" in data:
        decisions = "; ".join(
            f"{d['law']} {(d.get('service') or {}).get('display_name')} ({d['execution_state']})"
            for d in data["decisions"]
        )
        provider = (data.get("provider") or {}).get("name")
        officer = (data.get("case_officer") or {}).get("name")
        return f"{data['name']}: {decisions}; provider {provider}; case officer {officer}"
    return (
        f"invoice {data['invoice_number']} {data['status']}, {data['balance']} of "
        f"{data['amount']} {data['currency']} left, due {data['due_date']}"
    )

"""The demo's run: set up, start everything on 127.0.0.1, send, disturb, wait, report.

Kept apart from ``hub.demo`` (the command and the demo's fixed data) so each stays readable.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import click
import httpx
import uvicorn

from adapters.doubles.http_double import HttpDouble
from audit.report import subject_report, to_csv
from audit.signing import load_verifier
from audit.trail import load_checkpoints
from audit.verify import load_entries, verify
from hub.admin import add_agreements, register_system
from hub.api import create_app
from hub.bootstrap import Hub
from hub.demo import (
    CONTACT_CENTRE,
    DISTRICTS,
    TIME_APP,
    Tally,
    demo_agreements,
    demo_destinations,
    demo_routes,
    free_port,
    percentile,
)
from hub.fictional import (
    PROVIDERS,
    FictionalPeople,
    FictionalPerson,
    build_envelope,
    referral_body,
    visit_body,
)
from hub.sandbox import Sandbox
from hub.storage import messages as message_rows

OUTAGE_DESTINATION = "case-kungsholmen"


def _subject(person: FictionalPerson) -> tuple[str, str]:
    return (person.identity.scheme, person.identity.formatted())


@dataclass(frozen=True)
class Outgoing:
    token: str
    body: bytes
    label: str


class DemoRun:
    def __init__(self, sandbox: Sandbox, tally: Tally, seed: int = 2026) -> None:
        self.sandbox = sandbox
        self.settings = sandbox.settings()
        self.tally = tally
        self.rng = random.Random(seed)
        self.people = iter(FictionalPeople(seed))
        self.first = next(self.people)
        self.doubles: dict[str, HttpDouble] = {}
        self.server: uvicorn.Server | None = None
        self.hub: Hub | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def _start(self) -> tuple[Hub, dict[str, str], str]:
        names = [f"case-{d.removeprefix('sdn-')}" for d in DISTRICTS] + ["combine-timereports"]
        for name in names:
            double = HttpDouble()
            double.start()
            self.doubles[name] = double
        self.sandbox.write_routes(demo_destinations(self.doubles), demo_routes())
        click.echo(f"  {len(self.doubles)} destination doubles on 127.0.0.1 ({', '.join(names)})")
        hub = self.sandbox.open()
        self.hub = hub
        click.echo("  keys, audit signing key and database initialized")
        hub.on_outcome(self.tally.outcome)
        tokens = {
            name: register_system(hub, name, f"{text} (demo)", actor="demo")
            for name, text in [(CONTACT_CENTRE, "contact centre"), (TIME_APP, "home-care app")]
        }
        stored = add_agreements(hub, demo_agreements(hub.clock()), actor="demo")
        click.echo(
            f"  {len(tokens)} systems and {len(stored)} agreements for {len(DISTRICTS)} "
            "districts registered"
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

    def _stream(self, tokens: dict[str, str], referrals: int, visits: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        rng = self.rng
        for i in range(referrals):
            district = DISTRICTS[i % len(DISTRICTS)]
            person = self.first if i == 0 else next(self.people)
            body = build_envelope(
                message_type="case.referral",
                version="1",
                district=district,
                purpose="referral",
                body=referral_body(person, district, rng),
                message_id=f"AD-{i:06d}",
                subjects=(_subject(person),),
            )
            out.append(Outgoing(tokens[CONTACT_CENTRE], body, "referral"))
        for i in range(visits):
            district = DISTRICTS[i % len(DISTRICTS)]
            person = next(self.people)
            body = build_envelope(
                message_type="timereport.visit",
                version="1",
                district=district,
                purpose="time_reporting",
                body=visit_body(person, PROVIDERS[i % len(PROVIDERS)], rng),
                message_id=f"PH-{i:06d}",
                subjects=(_subject(person),),
            )
            out.append(Outgoing(tokens[TIME_APP], body, "visit"))
        rng.shuffle(out)
        return out

    # -- the run --------------------------------------------------------------------------------
    def run(
        self,
        *,
        referrals: int,
        visits: int,
        outage: float,
        rate: float,
        timeout: float,
        serve: bool,
    ) -> bool:
        click.echo(f"Omsorgshub demo — data folder {self.settings.home}")
        try:
            hub, tokens, url = self._start()
            ok = self._run(hub, tokens, url, referrals, visits, outage, rate, timeout)
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
        url: str,
        referrals: int,
        visits: int,
        outage: float,
        rate: float,
        timeout: float,
    ) -> bool:
        stream = self._stream(tokens, referrals, visits)
        pace = f" at {rate:g} msg/s" if rate else ""
        click.echo(
            f"\nSending {referrals} referrals and {visits} visit reports over HTTP{pace}; "
            f"{OUTAGE_DESTINATION} goes down for {outage:g} s a third of the way in."
        )
        errors: list[str] = []
        started = time.monotonic()
        with httpx.Client(base_url=url, timeout=30) as client, ThreadPoolExecutor(8) as pool:

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
                for d in r.json()["deliveries"]:
                    with self.tally.lock:
                        self.tally.sent[d["destination"]] += 1

            third = len(stream) // 3
            with click.progressbar(length=len(stream), label="  sending   ") as bar:
                for i, _ in enumerate(pool.map(send, enumerate(stream))):
                    bar.update(1)
                    if i == third and outage > 0:
                        self._outage(outage)
            ingest_seconds = time.monotonic() - started
            self._show_refusals(client, tokens)
        total = sum(self.tally.sent.values())
        done = self._wait(hub, total, timeout)
        self._summary(ingest_seconds, len(stream))
        for e in errors[:5]:
            click.echo(f"  unexpected answer: {e}")
        audit_ok = self._verify_and_report(hub)
        return done and not errors and audit_ok

    def _outage(self, seconds: float) -> None:
        double = self.doubles[OUTAGE_DESTINATION]
        double.set_mode("down")
        timer = threading.Timer(seconds, double.set_mode, args=("up",))
        timer.daemon = True
        timer.start()

    def _show_refusals(self, client: httpx.Client, tokens: dict[str, str]) -> None:
        click.echo("\nWhat the hub refuses:")
        person = next(self.people)
        wrong_sender = build_envelope(
            message_type="case.referral",
            version="1",
            district=DISTRICTS[0],
            purpose="referral",
            body=referral_body(person, DISTRICTS[0], self.rng),
            subjects=(_subject(person),),
        )
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
            click.echo(
                f"  {label}: {r.status_code} {problem.get('reason')} — {problem.get('detail')}"
            )

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

    def _summary(self, ingest_seconds: float, sent_messages: int) -> None:
        t = self.tally
        click.echo(
            f"\nIngest: {sent_messages} messages in {ingest_seconds:.1f} s "
            f"({sent_messages / max(ingest_seconds, 1e-9):.0f} msg/s over HTTP)\n"
        )
        head = f"  {'destination':<22}{'sent':>7}{'delivered':>11}{'retried':>9}{'dead':>6}"
        click.echo(head + f"{'p50 ms':>9}{'p99 ms':>9}{'double saw':>12}")
        for name, double in self.doubles.items():
            lat = t.latency.get(name, [])
            stats = double.stats()
            click.echo(
                f"  {name:<22}{t.sent[name]:>7}{t.delivered[name]:>11}{t.retried[name]:>9}"
                f"{t.dead[name]:>6}{percentile(lat, 50) * 1000:>9.0f}"
                f"{percentile(lat, 99) * 1000:>9.0f}{stats['unique']:>12}"
            )

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
        person = self.first
        ref = hub.guards.hmacs.subject_ref(person.identity.canonical)
        with hub.reader.connect() as conn:
            extract = subject_report(conn, ref)
        click.echo(f"Art. 15 extract for the first (fictional) person, {person.name}:")
        for line in to_csv(extract).splitlines()[:6]:
            click.echo(f"  {line}")
        return report.ok

    def _stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.hub is not None:
            self.hub.close()
        for double in self.doubles.values():
            double.stop()

"""The demo's run: set up, start everything on 127.0.0.1, send, disturb, wait, report.

Kept apart from ``hub.demo.command`` (the command and the demo's fixed data) so each stays readable.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import click
import httpx
import uvicorn

from adapters.doubles.ubw_double import seed_invoices
from hub.api.app import create_app
from hub.bootstrap import Hub
from hub.demo.atl_step import atl_destinations, atl_routes, show_atl
from hub.demo.atl_world import ASSISTANCE_APP, atl_agreement
from hub.demo.doubles import UBW_PASSWORD, Doubles, start_doubles
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.demo.follow_up import show_overdue
from hub.demo.homecare import COMBINE_SYSTEM, HomecareStep
from hub.demo.ivo_step import IvoStep
from hub.demo.logins import create_demo_logins, show_console, wait_until_stopped
from hub.demo.questions import ask_lookups
from hub.demo.report import short, show_meant_dead, summary, verify_and_report
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import (
    CASE_SYSTEM,
    CONTACT_CENTRE,
    DISTRICTS,
    EXECUTION_APP,
    TIME_APP,
    TOO_LONG_DAYS,
    Tally,
    demo_agreements,
    demo_destinations,
    demo_routes,
    flow_agreements,
    flow_routes,
    free_port,
)
from hub.demo.sdk_step import SDK_INBOX, sdk_agreements, sdk_destinations, sdk_routes, show_sdk
from hub.demo.stream import (
    DemoStream,
    Outgoing,
)
from hub.demo.time_step import APPS, register_providers, show_time_reports, time_agreements
from hub.services.agreements import add_agreements, register_system
from hub.storage import messages as message_rows


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
        self.ivo: IvoStep | None = None
        self.homecare = HomecareStep()

    # -- set-up ---------------------------------------------------------------------------------
    def _start(self) -> tuple[Hub, dict[str, str], str]:
        doubles = start_doubles()
        self.doubles = doubles
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
        self.ivo = IvoStep()
        self.ivo.start()
        self.homecare.start()
        self.sandbox.write_routes(
            {
                **destinations,
                **sdk_destinations(doubles.sdk),
                **self.ivo.destinations(),
                **atl_destinations(),
                **self.homecare.destinations(),
            },
            demo_routes()
            + flow_routes()
            + sdk_routes()
            + self.ivo.routes()
            + atl_routes()
            + self.homecare.routes(),
        )
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
                (SDK_INBOX, "the hub's SDK functional mailbox"),
                (COMBINE_SYSTEM, "Pulsen Combine, compensation bases"),
                *APPS,
                (ASSISTANCE_APP, "assistance provider's time app"),
            ]
        }
        now = hub.clock()
        agreements = demo_agreements(now) + flow_agreements(now) + sdk_agreements(now)
        agreements += [*self.ivo.agreements(hub), atl_agreement(now, "sdn-sodermalm")]
        agreements += self.homecare.agreements(now)
        agreements += time_agreements(now, [app for app, _ in APPS])
        stored = add_agreements(hub, agreements, actor="demo")
        register_providers(hub)
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
        counts: dict[str, int],
        outage: float,
        rate: float,
        timeout: float,
        serve: bool,
    ) -> bool:
        """``counts``: how many messages of each stream to send (``referrals``, ``visits``,
        ``events``, ``payments``)."""
        click.echo(f"Omsorgshub demo — data folder {self.settings.home}")
        try:
            hub, tokens, url = self._start()
            with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
                ok = self._run(hub, tokens, client, counts, outage, rate, timeout)
            if serve:
                show_console(url, create_demo_logins(hub))
                click.echo(
                    f"\nServing on {url}; tokens: "
                    + ", ".join(f"{k}={v}" for k, v in tokens.items())
                    + ". Ctrl-C to stop."
                )
                wait_until_stopped()
                click.echo("Stopping.")
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
        pace = f", paced at {rate:g} msg/s" if rate else ", as fast as the hub takes them"
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
        assert self.doubles is not None
        kept = summary(
            hub,
            self.doubles,
            self.tally,
            self.destinations,
            self.meant_dead,
            ingest_seconds,
            len(stream),
            rate,
        )
        kept = show_meant_dead(client, tokens[CONTACT_CENTRE], self.meant_dead) and kept
        for e in errors[:5]:
            click.echo(f"  unexpected answer: {e}")
        sdk_ok = show_sdk(hub, self.doubles.sdk, self.people)
        answered = ask_lookups(client, tokens[CONTACT_CENTRE], self.stream)
        followed = show_overdue(hub, client)
        assert self.ivo is not None
        reported = self.ivo.show(hub, client, tokens[EXECUTION_APP], self.settings.home)
        timed = show_time_reports(hub, client, tokens, self.settings.home, self.doubles.combine)
        held_ok = show_atl(hub, client, tokens, self.doubles.ubw)
        homecare = self.homecare.show(
            hub, self.doubles.combine, FictionalPeople(4, kind="personnummer").take(8)
        )
        audit_ok = verify_and_report(hub, self.stream.looked_up()[0])
        flows = answered and followed and reported and sdk_ok and timed and held_ok and homecare
        return done and kept and not errors and flows and audit_ok

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
            click.echo(f"  {label}: {r.status_code} {problem.get('reason')} — {short(problem)}")

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
    def _stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.hub is not None:
            self.hub.close()
        if self.doubles is not None:
            self.doubles.stop()
        if self.ivo is not None:
            self.ivo.stop()
        self.homecare.stop()

"""The demo's IVO reporting: a quarter's worklist and its submission to IVO's e-service.

A district of its own (``sdn-vasastan``) whose case system (a REST double here) reports
execution events of ``case.execution_event`` v2 through the hub; the hub tracks them, builds
the previous quarter's worklist (CSV and PDF in the demo folder) and submits its complete
reports through the outbox and the ``ivo`` robot to the IVO e-service double; submitting again
adds nothing. Small on purpose: 40 decisions.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import click
import httpx

from adapters.doubles.http_double import HttpDouble
from adapters.doubles.ivo_double import IvoDouble
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import decision_life, event_envelope, ivo_agreements
from hub.demo.ivo_service import (
    IVO_DESTINATION,
    IVO_MUNICIPALITY,
    ivo_destination,
    start_ivo_double,
)
from hub.demo.sandbox import DestinationSpec
from hub.demo.scenario import DEMO_RETRY, EXECUTION_APP
from hub.ivo.model import Quarter
from hub.services.ivo_reports import build_worklist, submit_reports
from hub.services.principal import Principal

DISTRICT = "sdn-vasastan"
CASE = "case-vasastan"
IVO = IVO_DESTINATION
DECISIONS = 40
SETTINGS = {
    "ivo_municipality": IVO_MUNICIPALITY,
    "ivo_administrations": "*=Vård- och omsorgsnämnden",
}


def previous_quarter(today: date) -> Quarter:
    return Quarter.of(Quarter.of(today).start - timedelta(days=1))


@dataclass
class IvoStep:
    case: HttpDouble = field(default_factory=HttpDouble)
    ivo: IvoDouble | None = None

    def start(self) -> None:
        self.case.start()
        try:
            self.ivo = start_ivo_double()
        except BaseException:
            self.case.stop()
            raise

    def stop(self) -> None:
        if self.ivo is not None:
            self.ivo.stop()
        self.case.stop()

    def destinations(self) -> dict[str, DestinationSpec]:
        assert self.ivo is not None
        return {
            CASE: DestinationSpec("http", {"url": self.case.url, "timeout": 2}, DEMO_RETRY),
            IVO: ivo_destination(self.ivo, max_attempts=10),
        }

    @staticmethod
    def routes() -> list[tuple[str, str, list[str]]]:
        return [("case.execution_event", DISTRICT, [CASE]), ("ivo.individual_report", "*", [IVO])]

    @staticmethod
    def agreements(hub: Hub) -> list[Agreement]:
        return ivo_agreements(
            hub.clock(), DISTRICT, execution_app=EXECUTION_APP, event_recipient=CASE,
            hub_sender=hub.settings.ivo_sender, ivo_destination=IVO,
        )  # fmt: skip

    def show(self, hub: Hub, client: httpx.Client, token: str, folder: Path) -> bool:
        assert self.ivo is not None
        quarter = previous_quarter(hub.clock().date())
        click.echo(
            f"\nIVO reporting ({DISTRICT}, {quarter}): the case system reports execution events "
            f"of {DECISIONS} decisions (case.execution_event v2)"
        )
        rng = random.Random(2026)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
        for i, person in enumerate(FictionalPeople(2026).take(DECISIONS)):
            for event in decision_life(person, rng, quarter, decision_id=f"B-DEMO-{i:04d}"):
                body = event_envelope(person, DISTRICT, event)
                answer = client.post("/api/v1/messages", content=body, headers=headers)
                if answer.status_code != 202:
                    click.echo(f"  unexpected answer: {answer.status_code} {answer.text[:200]}")
                    return False
        operator = Principal.operator("operator:demo")
        worklist = build_worklist(hub, operator, DISTRICT, str(quarter), out_dir=folder)
        tracked = worklist.tracked
        click.echo(f"  tracked: {tracked.applied} events of {tracked.decisions} decisions")
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in worklist.counts.items())
        click.echo(f"  worklist: {len(worklist.rows)} individual reports ({counts})")
        for row in worklist.incomplete[:3]:
            click.echo(
                f"    {row.code} decision {row.decision_id}: missing {', '.join(row.missing)}"
            )
        click.echo(f"  for the officer: {', '.join(str(p) for p in worklist.files)}")
        sent = submit_reports(hub, operator, DISTRICT, str(quarter))
        click.echo(
            f"  submitted {len(sent.submitted)} complete reports through the outbox; "
            f"{len(worklist.incomplete)} wait for an officer"
        )
        deadline = time.monotonic() + 60
        while len(self.ivo.received()) < len(sent.submitted) and time.monotonic() < deadline:
            time.sleep(0.2)
        received = self.ivo.received()
        example = received[0]["kvittens"] if received else "-"
        click.echo(
            f"  the ivo robot entered {len(received)} in IVO's e-service (double), receipts "
            f"e.g. {example}"
        )
        again = submit_reports(hub, operator, DISTRICT, str(quarter))
        time.sleep(1.0)
        click.echo(
            f"  submitted again: {len(again.submitted)} new, {len(again.repeated)} already "
            f"sent; IVO holds {len(self.ivo.received())}"
        )
        return (
            len(received) == len(sent.submitted) == len(self.ivo.received())
            and not again.submitted
            and not sent.failed
        )

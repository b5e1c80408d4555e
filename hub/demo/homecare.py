"""The demo's home care under customer choice: providers' visits (``timereport.visit`` v2),
their compensation basis from Pulsen Combine back to each provider's own system, and a
continuity figure. Shared with the tests, which check the hub's figures against their own
count of the same generated visits.
"""

from __future__ import annotations

import random
import time as time_module
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import click

from adapters.doubles.combine_double import CombineDouble
from adapters.doubles.http_double import HttpDouble
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson, build_envelope
from hub.demo.sandbox import DestinationSpec
from hub.demo.scenario import _agreements, _common
from hub.demo.time_world import CSV_APP, CSV_PROVIDER, JSON_APP, JSON_PROVIDER
from hub.services.compensation import deliver_compensation
from hub.services.homecare_stats import continuity
from hub.services.principal import Principal
from hub.services.timereport_approval import decide_batch, register_provider
from hub.timereports.document import visit_body
from hub.timereports.model import Intervention, Visit

COMBINE = "combine-timereports"  # the destination of approved visits, and of the basis lookup
COMBINE_SYSTEM = "pulsen-combine"  # the sender the hub ingests a compensation basis as
COMPENSATION_PURPOSE = "compensation"
# provider id (as Combine knows it) → the destination that is that provider's own system
RECEIVERS = {
    "prov-exempla-omsorg": "provider-exempla-omsorg",
    "prov-testvard": "provider-testvard",
}
APP_OF = {JSON_PROVIDER: JSON_APP, CSV_PROVIDER: CSV_APP}  # the demo's apps (hub.demo.time_world)
_CODES = ("personal_care", "meal", "medication", "supervision", "cleaning", "shopping")


@dataclass(frozen=True)
class PlannedVisit:
    """A generated visit, with what the test's own count needs in plain form."""

    provider: str
    visit: Visit
    day: date

    @property
    def client(self) -> str:
        return self.visit.client.canonical

    @property
    def batch(self) -> str:
        """One batch per provider and month, as an app reports a month's visits."""
        return f"batch-{self.provider}-{self.day:%Y-%m}"


def approve(hub: Hub, visits: Sequence[PlannedVisit], actor: str) -> int:
    """Each provider's team leader approves the batches of ``visits``: their held time goes
    on to Combine. Answers how many batches were approved."""
    operator = Principal.operator(actor)
    batches = sorted({(v.provider, v.batch) for v in visits})
    for provider, batch in batches:
        decide_batch(hub, operator, batch, "approve", provider=provider, by="tl-signing")
    return len(batches)


def register_reporting(hub: Hub, district: str, systems: Mapping[str, str]) -> None:
    """Let each provider's system (``systems``: provider → system) report its time."""
    operator = Principal.operator("setup")
    for provider, system in sorted(systems.items()):
        register_provider(hub, operator, provider, system=system, district=district)


def receivers_setting() -> str:
    return ";".join(f"{p}={d}" for p, d in RECEIVERS.items())


def compensation_agreements(now: datetime, district: str) -> list[Agreement]:
    """Combine's compensation basis to the providers' own systems, under the district's
    agreement (no consent asked: it is the municipality's contract with each provider)."""
    common = _common(now, district, 300)
    out = []
    for provider, destination in RECEIVERS.items():
        out += _agreements(common, [
            (f"COMPENSATION-{provider.upper()}", COMBINE_SYSTEM, destination,
             {COMPENSATION_PURPOSE}, {"timereport.compensation_basis"},
             {"identity", "time", "fees"}, frozenset()),
        ])  # fmt: skip
    return [replace(a, processor=COMBINE_SYSTEM) for a in out]


def fortnight(
    people: Sequence[FictionalPerson],
    first: date,
    rng: random.Random,
    *,
    days: int = 14,
    staff_per_provider: int = 12,
    zone: ZoneInfo,
) -> list[PlannedVisit]:
    """Visits of ``days`` days from ``first``: each person has one provider and one to three
    visits a day, mostly by a team of three of that provider's staff, now and then by someone
    else of the pool; some visits are double-staffed."""
    providers = sorted(RECEIVERS)
    out: list[PlannedVisit] = []
    for index, person in enumerate(people):
        provider = providers[index % len(providers)]
        pool = [f"{provider[5:9]}-st{n:02d}" for n in range(staff_per_provider)]
        team = rng.sample(pool, 3)  # the client's own team; others stand in now and then
        order = f"ord-{index:05d}"
        for offset in range(days):
            day = first + timedelta(days=offset)
            for hour in sorted(rng.sample((8, 12, 17, 20), rng.randint(1, 3))):
                start = datetime.combine(day, time(hour, 5 * rng.randrange(6)), zone)
                planned = timedelta(minutes=rng.choice((15, 30, 45)))
                actual = planned + timedelta(minutes=rng.randint(-5, 10))
                staff = rng.choice(team) if rng.random() < 0.85 else rng.choice(pool)
                second = rng.choice([p for p in pool if p != staff])
                visit = Visit(
                    index=len(out),
                    visit_id=f"{provider}-{index:04d}-{offset:02d}-{hour:02d}",
                    staff_id=staff,
                    client=person.identity,
                    order_id=order,
                    interventions=(Intervention(rng.choice(_CODES)),),
                    actual_start=start,
                    actual_end=start + actual,
                    confirmation=rng.choices(("nfc_tag", "code", "manual"), (70, 20, 10))[0],
                    planned_start=start,
                    planned_end=start + planned,
                    second_staff_id=second if rng.random() < 0.1 else None,
                )
                out.append(PlannedVisit(provider, visit, day))
    return out


def visit_envelope(planned: PlannedVisit, district: str, zone: ZoneInfo) -> bytes:
    """The ``timereport.visit`` v2 envelope a provider's app sends for one visit."""
    body = visit_body(planned.visit, provider=planned.provider, batch_id=planned.batch, zone=zone)
    return build_envelope(
        message_type="timereport.visit",
        version="2",
        district=district,
        purpose="time_reporting",
        body=body,
        message_id=planned.visit.visit_id,
        subjects=[(planned.visit.client.scheme, planned.visit.client.formatted())],
    )


def store_checked(hub: Hub, app: str, envelopes: Sequence[bytes]) -> list[str]:
    """Store generated visits as the JSON door stores a batch it has checked: through the
    pipeline as already admitted, 200 to a transaction; answers the hub's message ids.

    The fortnight is made-up history that stands for time already checked: fixed November
    dates (locked once December's lock day has passed), clients the case double has no orders
    for, staff drawn at random from a pool (now and then in two homes at once). Posted as XML,
    the checks would refuse it, as they should; the time step (``hub.demo.time_step``) and the
    tests show those checks."""
    ids: list[str] = []
    for start in range(0, len(envelopes), 200):
        chunk = envelopes[start : start + 200]
        prepared = [hub.ingestor.prepare(app, e, admitted=True) for e in chunk]
        ids += [r.message_id for r in hub.ingestor.store_all(prepared)]
    return ids


class HomecareStep:
    """The demo's home-care step: two providers' apps report a fortnight of visits
    (``timereport.visit`` v2) to Pulsen Combine; the districts' continuity figure; each
    provider's compensation basis from Combine's fee run, back to that provider's system."""

    district = "sdn-sodermalm"
    month = "2026-11"
    period = "2026-11-01..2026-11-14"

    def __init__(self) -> None:
        self.receivers = {name: HttpDouble() for name in RECEIVERS.values()}

    def start(self) -> None:
        for double in self.receivers.values():
            double.start()

    def stop(self) -> None:
        for double in self.receivers.values():
            double.stop()

    def destinations(self) -> dict[str, DestinationSpec]:
        return {
            n: DestinationSpec("http", {"url": d.url, "timeout": 2})
            for n, d in self.receivers.items()
        }

    def routes(self) -> list[tuple[str, str, list[str]]]:
        return [
            ("lookup.compensation_basis", "*", [COMBINE]),
            ("timereport.compensation_basis", "*", list(self.receivers)),
        ]

    def agreements(self, now: datetime) -> list[Agreement]:
        return compensation_agreements(now, self.district)

    def show(self, hub: Hub, combine: CombineDouble, people: Sequence[FictionalPerson]) -> bool:
        zone = ZoneInfo(hub.settings.time_zone)
        visits = fortnight(people, date(2026, 11, 1), random.Random(4), zone=zone)
        before = combine.imported
        for provider, app in APP_OF.items():  # each provider's own app, as registered
            envelopes = [
                visit_envelope(v, self.district, zone) for v in visits if v.provider == provider
            ]
            store_checked(hub, app, envelopes)
        held = combine.imported - before  # held until each provider approves its batch
        batches = approve(hub, visits, "demo")
        if not _until(lambda: combine.imported - before >= len(visits)):
            click.echo(
                f"  home care: only {combine.imported - before} of {len(visits)} visits "
                "reached Combine"
            )
            return False
        operator = Principal.operator("demo-officer")
        click.echo(
            f"\nHome care: two providers' apps reported {len(visits)} visits (timereport.visit v2) "
            f"for {len(people)} clients in {self.district}; {held} reached Pulsen Combine before "
            f"the providers approved their {batches} batches, then each once."
        )
        groups = continuity(hub, operator, self.period, per="provider").groups
        for g in groups:
            click.echo(
                f"  continuity {self.period}, {g.provider}: {g.clients} clients met on average "
                f"{g.mean} different staff (median {g.median}, at most {g.max})"
            )
        run = deliver_compensation(hub, operator, district=self.district, month=self.month)
        delivered = _until(lambda: all(d.unique == 1 for d in self.receivers.values()))
        for o in run.outcomes:
            got = self.receivers[o.destination].unique
            click.echo(
                f"  compensation basis {self.month} of {o.provider} (fee run {o.run_id}): "
                f"{o.clients} clients, {o.minutes / 60:.1f} h, {o.amount} kr → {o.destination} "
                f"only ({got} received)"
            )
        return delivered and bool(groups) and all(o.state == "delivered" for o in run.outcomes)


def _until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time_module.monotonic() + timeout
    while not condition():
        if time_module.monotonic() > deadline:
            return False
        time_module.sleep(0.05)
    return True

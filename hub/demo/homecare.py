"""The demo's home care under customer choice: providers' visits (``timereport.visit`` v2),
their compensation basis from Pulsen Combine back to each provider's own system, and a
continuity figure. Shared with the tests, which check the hub's figures against their own
count of the same generated visits.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts.model import Agreement
from hub.demo.fictional import FictionalPerson, build_envelope
from hub.demo.scenario import _agreements, _common
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
    staff_per_provider: int = 6,
    zone: ZoneInfo,
) -> list[PlannedVisit]:
    """Visits of ``days`` days from ``first``: each person has one provider and one to three
    visits a day by staff drawn from that provider's pool; some visits are double-staffed."""
    providers = sorted(RECEIVERS)
    out: list[PlannedVisit] = []
    for index, person in enumerate(people):
        provider = providers[index % len(providers)]
        pool = [f"{provider[5:9]}-st{n:02d}" for n in range(staff_per_provider)]
        order = f"ord-{index:05d}"
        for offset in range(days):
            day = first + timedelta(days=offset)
            for hour in sorted(rng.sample((8, 12, 17, 20), rng.randint(1, 3))):
                start = datetime.combine(day, time(hour, 5 * rng.randrange(6)), zone)
                planned = timedelta(minutes=rng.choice((15, 30, 45)))
                actual = planned + timedelta(minutes=rng.randint(-5, 10))
                staff, second = rng.sample(pool, 2)
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
    body = visit_body(planned.visit, provider=planned.provider, batch_id="batch-demo", zone=zone)
    return build_envelope(
        message_type="timereport.visit",
        version="2",
        district=district,
        purpose="time_reporting",
        body=body,
        message_id=planned.visit.visit_id,
        subjects=[(planned.visit.client.scheme, planned.visit.client.formatted())],
    )

"""The fictional clients the case-management double starts with, one set per district.

:func:`seed_clients` makes them with ``hub.demo.fictional``, the same for the same arguments: each
client has a name, an identity number, decisions under SoL (born before 1960: home care and a
few other services) or LSS (personal assistance and the like) with interventions, dates,
granted hours and an execution state, a fee basis, a provider and a case officer.
:func:`seed_protected_clients` makes a few more per district whose identity is protected
(skyddad folkbokföring, sekretessmarkering): the double answers them with ``protectedIdentity``,
and the hub's confidentiality check refuses them unless an agreement allows it. They are kept
apart so that every client :func:`seed_clients` makes stays as it was.
:func:`person_id_of` gives a seeded identity as the contract's person id (digits and the OID of
its kind). Everything here is made up; no value belongs to a real person.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeAlias

from hub.demo.fictional import PROVIDERS, FictionalPeople, FictionalPerson, FictionalProvider
from hub.ingest.identity import IdentityNumber

DISTRICTS = ("sdn-sodermalm", "sdn-kungsholmen", "sdn-farsta")
OID_PERSONNUMMER = "1.2.752.129.2.1.3.1"
OID_SAMORDNINGSNUMMER = "1.2.752.129.2.1.3.3"
OID_CPR = "1.2.208.176.1.2"

_OFFICERS = ("Handla Läggarsson", "Beslute Provström", "Utreda Exempelqvist", "Bistå Testlund")
_Service: TypeAlias = tuple[str, str, str, tuple[int, int] | None]  # law, code, text, hours
_HOME_CARE: _Service = ("SoL", "home_care", "Hemtjänst", (8, 120))
_PERSONAL_ASSISTANCE: _Service = ("LSS", "personal_assistance", "Personlig assistans", (60, 700))
_SOL_SERVICES: tuple[_Service, ...] = (
    ("SoL", "safety_alarm", "Trygghetslarm", None),
    ("SoL", "food", "Matdistribution", None),
    ("SoL", "day_activity", "Dagverksamhet", None),
    ("SoL", "short_term_stay", "Korttidsvistelse", None),
)
_LSS_SERVICES: tuple[_Service, ...] = (
    ("LSS", "escort_service", "Ledsagarservice", (4, 40)),
    ("LSS", "daily_activity", "Daglig verksamhet", None),
)
_HOME_CARE_INTERVENTIONS = (
    ("personal_care", "Personlig omvårdnad"), ("cleaning", "Städning"), ("laundry", "Tvätt"),
    ("shopping", "Inköp"), ("meal", "Måltid"), ("supervision", "Tillsyn"),
    ("medication", "Läkemedelshantering"),
)  # fmt: skip


@dataclass(frozen=True)
class SeededDecision:
    decision_id: str
    law: str  # "SoL" | "LSS"
    service: tuple[str, str]  # code, display name
    interventions: tuple[tuple[str, str], ...]
    decision_date: date
    valid_from: date
    valid_to: date | None
    granted_hours_per_month: Decimal | None
    execution_state: str  # as seeded; ReportExecutionEvent moves it on


@dataclass(frozen=True)
class SeededClient:
    district: str
    identity: IdentityNumber
    name: str
    decisions: tuple[SeededDecision, ...]
    income_per_month: Decimal
    currency: str
    fee_period: tuple[date, date | None]
    provider: FictionalProvider
    officer: tuple[str, str]  # officer id, name
    protected_identity: str | None = None  # confidentiality_marking | protected_registration


def seed_clients(
    seed: int = 0, districts: Sequence[str] = DISTRICTS, per_district: int = 12
) -> list[SeededClient]:
    """Fictional clients with decisions, the same for the same arguments."""
    rng = random.Random(seed)
    people = iter(FictionalPeople(seed))
    clients: list[SeededClient] = []
    for district in districts:
        prefix = district.removeprefix("sdn-")[:3].upper()
        for n in range(per_district):
            clients.append(_client(rng, district, next(people), f"{prefix}-{n + 1:03d}", None))
    return clients


PROTECTION_KINDS = ("protected_registration", "confidentiality_marking")


def seed_protected_clients(
    seed: int = 0, districts: Sequence[str] = DISTRICTS, per_district: int = 12
) -> list[SeededClient]:
    """Per district one client of each kind of protection, the same for the same arguments:
    people after those :func:`seed_clients` made with the same arguments (so no number is
    shared), decisions from a random stream of their own."""
    rng = random.Random(f"protected-{seed}")
    people = iter(FictionalPeople(seed))
    for _ in range(len(districts) * per_district):
        next(people)
    clients: list[SeededClient] = []
    for district in districts:
        prefix = district.removeprefix("sdn-")[:3].upper()
        for n, kind in enumerate(PROTECTION_KINDS, start=1):
            clients.append(_client(rng, district, next(people), f"{prefix}-P{n:02d}", kind))
    return clients


def _client(
    rng: random.Random, district: str, person: FictionalPerson, prefix: str, protected: str | None
) -> SeededClient:
    decisions = _decisions(rng, person.identity, prefix)
    return SeededClient(
        district=district,
        identity=person.identity,
        name=person.name,
        decisions=decisions,
        income_per_month=Decimal(rng.randrange(900_000, 3_200_000)) / 100,
        currency="DKK" if person.identity.scheme == "dk" else "SEK",
        fee_period=(date(2024, 1, 1), rng.choice((None, date(2024, 12, 31)))),
        provider=rng.choice(PROVIDERS),
        officer=(f"hl-{rng.randrange(1000, 10000)}", rng.choice(_OFFICERS)),
        protected_identity=protected,
    )


def _decisions(
    rng: random.Random, identity: IdentityNumber, prefix: str
) -> tuple[SeededDecision, ...]:
    if identity.birth_date.year < 1960:  # elderly care under SoL
        services = [_HOME_CARE, *rng.sample(_SOL_SERVICES, rng.randint(0, 2))]
    else:  # younger: support under LSS
        services = [_PERSONAL_ASSISTANCE, *rng.sample(_LSS_SERVICES, rng.randint(0, 2))]
    decided: list[SeededDecision] = []
    for number, (law, code, display, hours) in enumerate(services, start=1):
        decision_date = date(2023, 1, 2) + timedelta(days=rng.randrange(540))
        valid_from = decision_date + timedelta(days=rng.randrange(21))
        interventions: tuple[tuple[str, str], ...] = ()
        if code == "home_care":
            interventions = tuple(rng.sample(_HOME_CARE_INTERVENTIONS, rng.randint(1, 4)))
            # Double staffing (two care workers at once) for some personal care: decided from
            # the number, not the random stream, so every other seeded value stays as it was.
            if (
                any(c == "personal_care" for c, _ in interventions)
                and int(identity.canonical[-2]) < 4
            ):
                interventions += (("double_staffing", "Dubbelbemanning"),)
        decided.append(
            SeededDecision(
                decision_id=f"B-{prefix}-{number}",
                law=law,
                service=(code, display),
                interventions=interventions,
                decision_date=decision_date,
                valid_from=valid_from,
                valid_to=rng.choice((None, valid_from + timedelta(days=365 * rng.randint(1, 2)))),
                granted_hours_per_month=None if hours is None else _hours(rng, *hours),
                execution_state=rng.choices(
                    ("executed", "pending", "interrupted"), weights=(80, 15, 5)
                )[0],
            )
        )
    return tuple(decided)


def _hours(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(2 * low, 2 * high)) / 2  # whole and half hours


def person_id_of(identity: IdentityNumber) -> tuple[str, str]:
    """The contract's (id, OID type) of a seeded identity."""
    if identity.scheme == "dk":
        return identity.canonical, OID_CPR
    if identity.kind == "samordningsnummer":
        return identity.canonical, OID_SAMORDNINGSNUMMER
    return identity.canonical, OID_PERSONNUMMER

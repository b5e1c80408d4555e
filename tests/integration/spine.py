"""A hub on a real database delivering to a real HTTP double, driven step by step.

The relay is run pass by pass (``relay.run_once``) with an inline dispatcher and a clock the
test moves, so retry schedules, lease expiry and agreement validity are tested exactly, with no
sleeps. Everything else is the product: the database, the guards, the HTTP adapter and double.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.doubles.http_double import HttpDouble
from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, FictionalPerson, referral_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import demo_agreements
from hub.services.agreements import add_agreements, register_system
from hub.storage import deliveries as delivery_rows
from schemas.registry import default_registry

DISTRICT = "sdn-sodermalm"
DESTINATION = "case-sodermalm"
SENDER = "aldre-direkt"
RETRY = {"base_seconds": 10.0, "cap_seconds": 60.0, "max_attempts": 4}
LEASE = 30.0


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class InlineDispatcher:
    """Runs each batch at once in the relay's thread; ``drop`` loses batches like a broker."""

    def __init__(self) -> None:
        self.execute: Callable[[Sequence[tuple[str, int]]], object] | None = None
        self.drop = False
        self.dropped: list[list[tuple[str, int]]] = []

    def dispatch(self, claims: Sequence[tuple[str, int]]) -> None:
        if self.drop:
            self.dropped.append(list(claims))
            return
        assert self.execute is not None
        self.execute(claims)

    def capacity(self) -> int:
        return 20

    def close(self) -> None:
        return None


@dataclass
class Spine:
    hub: Hub
    double: HttpDouble
    clock: Clock
    dispatcher: InlineDispatcher
    home: Path
    database_url: str
    people: Iterator[FictionalPerson]
    rng: random.Random

    def envelope(
        self, message_id: str, person: FictionalPerson | None = None, district: str = DISTRICT
    ) -> bytes:
        person = person or next(self.people)
        return referral_envelope(person, district, self.rng, message_id=message_id)

    def send(self, count: int, prefix: str = "m") -> list[str]:
        return [
            self.hub.ingestor.ingest(SENDER, self.envelope(f"{prefix}{i}")).message_id
            for i in range(count)
        ]

    def deliveries(self, message_id: str) -> list[delivery_rows.DeliveryRow]:
        with self.hub.reader.connect() as conn:
            return delivery_rows.for_message(conn, message_id)

    def states(self, message_ids: Sequence[str]) -> list[str]:
        return [d.state for m in message_ids for d in self.deliveries(m)]

    def agreement(self) -> Agreement:
        (a,) = [
            a
            for a in demo_agreements(self.clock())
            if a.district == DISTRICT and "case.referral" in a.message_types
        ]
        return a


def open_spine(
    tmp_path: Path,
    database_url: str,
    *,
    agreement_to: datetime | None = None,
    retry: Mapping[str, float] = RETRY,
    types: Sequence[str] = (),
    overrides: Mapping[str, str] | None = None,
) -> Spine:
    """``types``: message types routed to the destination besides ``case.referral`` (from
    ``DISTRICT``; the agreement then allows them and the data categories they carry too)."""
    double = HttpDouble()
    double.start()
    clock = Clock()
    dispatcher = InlineDispatcher()
    home = tmp_path / "hub"
    settings = {"lease_seconds": str(LEASE), **(overrides or {})}
    sandbox = Sandbox(home, database_url=database_url, overrides=settings)
    sandbox.write_routes(
        {DESTINATION: DestinationSpec("http", {"url": double.url, "timeout": 2}, dict(retry))},
        [
            ("case.referral", DISTRICT, [DESTINATION]),
            ("case.referral", "sdn-norr", [DESTINATION]),
            *((t, DISTRICT, [DESTINATION]) for t in types),
        ],
    )
    hub = sandbox.open(dispatcher=dispatcher, clock=clock)
    dispatcher.execute = hub.executor.execute
    register_system(hub, SENDER, "contact centre (test)", "test")
    spine = Spine(
        hub,
        double,
        clock,
        dispatcher,
        home,
        database_url,
        iter(FictionalPeople(7)),
        random.Random(7),
    )
    agreement = spine.agreement()
    if agreement_to is not None:
        agreement = replace(agreement, valid_to=agreement_to)
    if types:
        carried = {c for t in default_registry().types() if t.name in types for c in t.categories}
        agreement = replace(
            agreement,
            message_types=agreement.message_types | set(types),
            categories=agreement.categories | carried,
        )
    add_agreements(hub, [agreement], "test")
    return spine


def close_spine(spine: Spine) -> None:
    spine.hub.close()
    spine.double.stop()

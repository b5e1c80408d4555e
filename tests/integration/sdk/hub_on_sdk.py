"""A hub on a real database whose referrals go to the SDK double, run as its own process.

The relay runs pass by pass with an inline dispatcher and a clock the test moves (as in
``tests.integration.spine``); the double keeps its own (real) time for receipts and tokens.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from contracts.model import Agreement
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, FictionalPerson, referral_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import demo_agreements
from hub.services.agreements import add_agreements, register_system
from hub.storage import deliveries as delivery_rows
from tests.integration.sdk.conftest import DISTRICT, HUB_MAILBOX, sdk_options
from tests.integration.spine import Clock, InlineDispatcher

SENDER = "aldre-direkt"
INBOX_SYSTEM = "sdk-inbox"
SDK = "sdk-sodermalm"
BROKEN = "sdk-farsta"  # its recipient's functional address breaks the API's schema
FOLLOW_UP = "followup-memory"
NORR = "sdn-farsta"
TIMEOUT = 120.0
RETRY = {"base_seconds": 5.0, "cap_seconds": 60.0, "max_attempts": 4}


@dataclass
class SdkHub:
    hub: Hub
    clock: Clock
    control: httpx.Client  # the double's control endpoints
    people: Iterator[FictionalPerson]
    rng: random.Random

    def send(self, message_id: str, district: str = DISTRICT) -> tuple[str, FictionalPerson]:
        person = next(self.people)
        envelope = referral_envelope(person, district, self.rng, message_id=message_id)
        return self.hub.ingestor.ingest(SENDER, envelope).message_id, person

    def delivery(self, message_id: str) -> delivery_rows.DeliveryRow:
        with self.hub.reader.connect() as conn:
            (row,) = delivery_rows.for_message(conn, message_id)
        return row

    def relay(self, advance: float = 0.0) -> None:
        self.clock.advance(advance)
        self.hub.relay.run_once()

    def double(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        response = (
            self.control.get(path) if payload is None else self.control.post(path, json=payload)
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def _agreements(now_agreements: list[Agreement]) -> list[Agreement]:
    referral = {a.district: a for a in now_agreements if "case.referral" in a.message_types}
    sodermalm, norr = referral[DISTRICT], referral[NORR]
    return [
        replace(sodermalm, recipients=frozenset({SDK})),
        replace(norr, recipients=frozenset({BROKEN})),
        replace(
            sodermalm,
            id="PUB-SODERMALM-SDK-INBOX",
            processor=INBOX_SYSTEM,
            senders=frozenset({INBOX_SYSTEM}),
            recipients=frozenset({FOLLOW_UP}),
            message_types=frozenset({"mailbox.message"}),
            categories=frozenset({"identity", "case"}),
        ),
    ]


def open_sdk_hub(tmp_path: Path, database_url: str, api_url: str) -> SdkHub:
    base = api_url.removesuffix("/v1")
    options = sdk_options(
        api_url,
        base + "/oauth2/token",
        receipt_timeout_seconds=TIMEOUT,
        inbox_functional_address=HUB_MAILBOX,
        inbox_system=INBOX_SYSTEM,
        inbox_purpose="referral",
        inbox_poll_seconds=0.2,
    )
    broken = sdk_options(
        api_url,
        base + "/oauth2/token",
        recipients={NORR: {"organization": "0203:2120009991", "functional_address": "x" * 300}},
    )
    clock = Clock()
    dispatcher = InlineDispatcher()
    sandbox = Sandbox(tmp_path / "hub", database_url=database_url)
    sandbox.write_routes(
        {
            SDK: DestinationSpec("sdk", options, RETRY),
            BROKEN: DestinationSpec("sdk", broken, RETRY),
            FOLLOW_UP: DestinationSpec("memory", {}),
        },
        [
            ("case.referral", DISTRICT, [SDK]),
            ("case.referral", NORR, [BROKEN]),
            ("mailbox.message", DISTRICT, [FOLLOW_UP]),
        ],
    )
    hub = sandbox.open(dispatcher=dispatcher, clock=clock)
    dispatcher.execute = hub.executor.execute
    register_system(hub, SENDER, "contact centre (test)", "test")
    register_system(hub, INBOX_SYSTEM, "the hub's SDK mailbox (test)", "test")
    add_agreements(hub, _agreements(demo_agreements(clock())), "test")
    return SdkHub(hub, clock, httpx.Client(base_url=base), iter(FictionalPeople(11)),
                  random.Random(11))  # fmt: skip


def close_sdk_hub(sdk_hub: SdkHub) -> None:
    sdk_hub.control.close()
    sdk_hub.hub.close()

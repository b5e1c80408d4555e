"""A hub on a real database whose visits go to the Combine double, run as its own process, and
whose compensation bases go to two providers' receivers (HTTP doubles on 127.0.0.1).

The relay runs pass by pass with an inline dispatcher (as in ``tests.integration.spine``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from adapters.doubles.combine_double import CombineDouble
from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub
from hub.demo.homecare import (
    COMBINE,
    COMBINE_SYSTEM,
    RECEIVERS,
    compensation_agreements,
    receivers_setting,
    register_reporting,
)
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import TIME_APP, demo_agreements
from hub.services.agreements import add_agreements, register_system
from tests.adapter_contract import double_process
from tests.integration.spine import Clock, InlineDispatcher

DISTRICT = "sdn-sodermalm"
ZONE = ZoneInfo("Europe/Stockholm")


@dataclass
class CombineWorld:
    hub: Hub
    clock: Clock
    combine: httpx.Client  # the Combine double's control endpoints
    receivers: dict[str, HttpDouble]  # destination → the provider system's double

    def relay_until_quiet(self, passes: int = 50) -> None:
        for _ in range(passes):
            self.hub.relay.run_once()

    def imports(self) -> dict[str, Any]:
        response = self.combine.get("/_combine/imports")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@contextmanager
def combine_world(
    tmp_path: Path,
    database_url: str,
    now: datetime | None = None,
    combine: CombineDouble | None = None,
) -> Iterator[CombineWorld]:
    """The world, with the Combine double as its own process (or ``combine``, a double of
    this test process that misbehaves in a way no mode does)."""
    with ExitStack() as stack:
        if combine is None:
            url, control = stack.enter_context(double_process("combine_double", ""))
        else:
            url = control = stack.enter_context(combine).base_url
        receivers = {name: HttpDouble() for name in RECEIVERS.values()}
        for double in receivers.values():
            double.start()
        clock = Clock() if now is None else Clock(now)
        dispatcher = InlineDispatcher()
        sandbox = Sandbox(
            tmp_path / "hub",
            database_url=database_url,
            overrides={"compensation_receivers": receivers_setting()},
        )
        destinations = {COMBINE: DestinationSpec("combine", {"base_url": url, "timeout": 5})}
        for name, double in receivers.items():
            destinations[name] = DestinationSpec("http", {"url": double.url})
        sandbox.write_routes(
            destinations,
            [
                ("timereport.visit", "*", [COMBINE]),
                ("lookup.compensation_basis", "*", [COMBINE]),
                ("timereport.compensation_basis", "*", list(receivers)),
            ],
        )
        hub = sandbox.open(dispatcher=dispatcher, clock=clock)
        dispatcher.execute = hub.executor.execute
        try:
            register_system(hub, TIME_APP, "home-care time app (test)", "test")
            register_system(hub, COMBINE_SYSTEM, "Pulsen Combine (test)", "test")
            now = clock()
            agreements = [a for a in demo_agreements(now) if a.district == DISTRICT]
            add_agreements(hub, agreements + compensation_agreements(now, DISTRICT), "test")
            register_reporting(hub, DISTRICT, dict.fromkeys(RECEIVERS, TIME_APP))
            with httpx.Client(base_url=control) as client:
                yield CombineWorld(hub, clock, client, receivers)
        finally:
            hub.close()
            for double in receivers.values():
                double.stop()

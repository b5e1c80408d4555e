"""IVO tracking on a schedule (``serve``'s thread, setting ``ivo_track_seconds``): events that
arrive are tracked without anyone running ``ivo track``, 0 turns it off, and two trackers at
once (two hubs on one database) apply each event exactly once."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.doubles.http_double import HttpDouble
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople
from hub.demo.ivo_events import decision_life, event_envelope, ivo_agreements
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.ivo.model import Quarter
from hub.services.agreements import add_agreements
from hub.services.ivo_summaries import start_tracking
from hub.storage.tables import ivo_decisions, ivo_tracked_messages
from tests.integration.spine import Clock

DISTRICT = "sdn-sodermalm"
APP = "lifecare"


def open_hub(tmp_path: Path, database_url: str, seconds: str) -> tuple[Hub, HttpDouble]:
    double = HttpDouble()
    double.start()
    sandbox = Sandbox(
        tmp_path / "hub", database_url=database_url, overrides={"ivo_track_seconds": seconds}
    )
    spec = DestinationSpec("http", {"url": double.url, "timeout": 2})
    sandbox.write_routes(
        {"case": spec, "ivo": spec},
        [
            ("case.execution_event", DISTRICT, ["case"]),
            ("ivo.individual_report", DISTRICT, ["ivo"]),
        ],
    )
    hub = sandbox.open(clock=Clock())
    add_agreements(
        hub,
        ivo_agreements(
            hub.clock(), DISTRICT, execution_app=APP, event_recipient="case",
            hub_sender=hub.settings.ivo_sender, ivo_destination="ivo",
        ),
        "test",
    )  # fmt: skip
    return hub, double


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    built, double = open_hub(tmp_path, database_url, "0.1")
    yield built
    built.close()
    double.stop()


def send(hub: Hub, count: int) -> int:
    rng = random.Random(11)
    sent = 0
    for i, person in enumerate(FictionalPeople(11).take(count)):
        for event in decision_life(person, rng, Quarter.parse("2026Q3"), decision_id=f"B-S-{i}"):
            hub.ingestor.ingest(APP, event_envelope(person, DISTRICT, event))
            sent += 1
    return sent


def counts(hub: Hub) -> tuple[int, int, int]:
    with hub.reader.connect() as conn:
        decisions = conn.execute(select(func.count()).select_from(ivo_decisions)).scalar_one()
        events = conn.execute(select(func.coalesce(func.sum(ivo_decisions.c.events), 0)))
        applied = conn.execute(select(func.count()).select_from(ivo_tracked_messages))
        return decisions, int(events.scalar_one()), applied.scalar_one()


def wait_for(hub: Hub, expected: tuple[int, int, int], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while counts(hub) != expected:
        assert time.monotonic() < deadline, f"tracked {counts(hub)}, expected {expected}"
        time.sleep(0.05)


def test_serve_tracks_new_events_without_being_asked(hub: Hub) -> None:
    stop = threading.Event()
    thread = start_tracking(hub, stop)
    assert thread is not None
    try:
        sent = send(hub, 20)
        wait_for(hub, (20, sent, sent))
        more = send(hub, 25) - sent  # the first 20 again (repeats) and 5 new decisions
        assert more > 0
        wait_for(hub, (25, sent + more, sent + more))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_two_hubs_tracking_at_once_apply_each_event_once(hub: Hub, database_url: str) -> None:
    # a second hub on the same home and database: its own engine and connections, as a
    # second `serve` would have (the tracking's lock is what keeps them apart)
    other = Sandbox(
        hub.settings.home, database_url=database_url, overrides={"ivo_track_seconds": "0.1"}
    ).open(clock=Clock())
    sent = send(hub, 60)
    stop = threading.Event()
    threads = [start_tracking(hub, stop), start_tracking(other, stop), start_tracking(hub, stop)]
    try:
        wait_for(hub, (60, sent, sent))
        time.sleep(0.3)  # a few more rounds of all: nothing applied twice
        assert counts(hub) == (60, sent, sent)
    finally:
        stop.set()
        for thread in threads:
            assert thread is not None
            thread.join(timeout=10)
        other.close()


def test_zero_seconds_is_off(tmp_path: Path) -> None:
    built, double = open_hub(tmp_path, f"sqlite:///{tmp_path / 'off.db'}", "0")
    try:
        assert start_tracking(built, threading.Event()) is None
    finally:
        built.close()
        double.stop()

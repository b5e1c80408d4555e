"""What every scenario shares: the run's options, the fictional messages, a prepared hub.

The messages are ``case.referral`` envelopes from the contact centre ("aldre-direkt") spread
over the demo's three districts, one data subject each, each with its own message id (about
1 KB of XML). The hub is the demo's set-up (``hub.demo.command``): its agreements and routes, with
every destination pointed at one URL (an HTTP double).
"""

from __future__ import annotations

import itertools
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPeople, referral_envelope
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import CONTACT_CENTRE, DISTRICTS, demo_agreements, demo_routes
from hub.ports import Dispatcher
from hub.services.agreements import add_agreements, register_system

SENDER = CONTACT_CENTRE
DESTINATIONS = (*(f"case-{d.removeprefix('sdn-')}" for d in DISTRICTS), "combine-timereports")
INGEST_BATCH = 100  # messages per ingest_many call (and per bare-insert transaction)
SETUP_TIMEOUT = 120.0  # seconds for every load thread to be ready (a hang fails instead)


@dataclass(frozen=True)
class Options:
    messages: int
    clients: int = 8
    postgres_url: str = ""
    amqp_url: str = ""
    rates: tuple[float, ...] = (100.0, 500.0)  # offered msg/s of the open-loop scenario
    # stored-message counts at which store-growth measures (``--scale-points``)
    scale_points: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    progress: Callable[[str], None] = field(default=lambda _text: None)


def documents(count: int, *, seed: int = 2026, prefix: str = "BENCH") -> list[bytes]:
    """``count`` distinct referral envelopes, the same bytes for the same seed."""
    rng = random.Random(seed)
    out = []
    for i, person in enumerate(FictionalPeople(seed).take(count)):
        district = DISTRICTS[i % len(DISTRICTS)]
        out.append(referral_envelope(person, district, rng, message_id=f"{prefix}-{i:07d}"))
    return out


@contextmanager
def scratch_folder(name: str) -> Iterator[Path]:
    """A temporary folder for one scenario, removed afterwards whatever happens."""
    with tempfile.TemporaryDirectory(prefix=f"omsorgshub-bench-{name}-") as folder:
        yield Path(folder)


@dataclass
class Prepared:
    sandbox: Sandbox
    hub: Hub
    token: str  # the sender's bearer token


# ``python -m bench --set NAME=VALUE``: settings every hub of the run gets (the scenario's own
# overrides win), so that a setting can be tried at several values with the same commands.
SETTINGS: dict[str, str] = {}


def setting_variables() -> dict[str, str]:
    """``SETTINGS`` as the environment of a hub process the bench starts (``serve``)."""
    return {f"OMSORGSHUB_{name.upper()}": value for name, value in SETTINGS.items()}


def prepare_hub(
    home: Path,
    destination_url: str,
    *,
    database_url: str = "",
    broker_url: str = "",
    overrides: Mapping[str, str] | None = None,
    dispatcher: Dispatcher | None = None,
) -> Prepared:
    """A fresh hub in ``home``: keys, database, the sender, the demo's agreements and routes
    (every destination at ``destination_url``, the demo's quick retry policy)."""
    sandbox = Sandbox(home, database_url, broker_url, {**SETTINGS, **(overrides or {})})
    spec = DestinationSpec("http", {"url": destination_url, "timeout": 10})
    sandbox.write_routes(dict.fromkeys(DESTINATIONS, spec), demo_routes())
    hub = sandbox.open(dispatcher=dispatcher)
    try:
        token = register_system(hub, SENDER, "benchmark sender (fictional data)", actor="bench")
        add_agreements(hub, demo_agreements(hub.clock()), actor="bench")
    except BaseException:
        hub.close()
        raise
    return Prepared(sandbox, hub, token)


def ingest_all(
    hub: Hub, docs: Sequence[bytes], progress: Callable[[int], None] | None = None
) -> None:
    """``ingest_many`` in batches of ``INGEST_BATCH``; any refusal is a benchmark failure."""
    for start in range(0, len(docs), INGEST_BATCH):
        results = hub.ingestor.ingest_many(SENDER, docs[start : start + INGEST_BATCH])
        failed = [r for r in results if isinstance(r, Exception)]
        if failed:
            raise RuntimeError(f"ingest refused {len(failed)} messages, first: {failed[0]!r}")
        if progress is not None:
            progress(start + len(results))


def in_threads(count: int, setup: Callable[[], Callable[[int], None]], threads: int) -> float:
    """Run work items 0..count-1 on ``threads`` threads; returns the elapsed seconds.

    Each thread first calls ``setup()`` for its own work function (untimed: open a client,
    connect), then all start together and take the next item until none is left.
    """
    counter = itertools.count()
    errors: list[BaseException] = []
    ready = threading.Barrier(threads + 1, timeout=SETUP_TIMEOUT)

    def loop() -> None:
        work: Callable[[int], None] | None = None
        try:
            work = setup()
        except BaseException as exc:
            errors.append(exc)
        ready.wait()
        if work is None:
            return
        try:
            while (i := next(counter)) < count:
                work(i)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=loop, name=f"bench-load-{n}") for n in range(threads)]
    for t in pool:
        t.start()
    ready.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} load thread(s) failed: {errors[0]!r}") from errors[0]
    return elapsed


@dataclass
class Interleaved:
    """What ``interleave`` measured per runner: wall seconds in all, and CPU seconds per call of
    the calling thread, one figure per block."""

    wall: dict[str, float]
    cpu_per_call: dict[str, list[float]]


def interleave(runners: Mapping[str, Callable[[int], None]], blocks: int, size: int) -> Interleaved:
    """Call each runner with ``0 .. size - 1`` once, untimed (a warm-up), then for each of
    ``blocks`` blocks with that block's ``size`` indexes, the runners in turn and the order
    reversed every other block, so background load hits all alike."""
    measured = Interleaved({name: 0.0 for name in runners}, {name: [] for name in runners})
    for call in runners.values():
        for i in range(size):
            call(i)
    for block in range(1, blocks + 1):
        order = list(runners.items())
        if block % 2:
            order.reverse()
        for name, call in order:
            cpu, started = time.thread_time(), time.perf_counter()
            for i in range(block * size, (block + 1) * size):
                call(i)
            measured.wall[name] += time.perf_counter() - started
            measured.cpu_per_call[name].append((time.thread_time() - cpu) / size)
    return measured

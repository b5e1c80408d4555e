"""The relay's loop keeps maintenance off the message path and coalesces wake-ups.

Fakes of the ports count what the relay asks of the store; the outbox's own behaviour under
real databases is proven in tests/integration/test_delivery.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from hub.outbox.relay import Relay


class Store:
    @contextmanager
    def write(self) -> Iterator[None]:
        yield None


class Outbox:
    def __init__(self) -> None:
        self.due = 0
        self.sweeps = 0
        self.claims = 0
        self.claimed: list[int] = []
        self.changed = threading.Condition()

    def sweep(self, _tx: None, _now: datetime) -> int:
        self.sweeps += 1
        return 0

    def claim(
        self, _tx: None, _now: datetime, _lease: timedelta, limit: int
    ) -> list[tuple[str, int, datetime]]:
        with self.changed:
            take, self.due = min(limit, self.due), self.due - min(limit, self.due)
            self.claims += 1
            self.claimed.append(take)
            self.changed.notify_all()
        return [(f"d{i}", 1, datetime.now(UTC)) for i in range(take)]

    def wait_for(self, test: Callable[[], bool]) -> bool:
        with self.changed:
            return self.changed.wait_for(test, timeout=30)


class Dispatcher:
    def __init__(self, capacity: int) -> None:
        self.free = capacity

    def dispatch(self, claims: Sequence[tuple[str, int]]) -> None:
        self.free -= 1

    def capacity(self) -> int:
        return self.free

    def close(self) -> None:
        return None


class Audit:
    def __init__(self) -> None:
        self.checks = 0

    def checkpoint_due(self, _tx: None) -> bool:
        self.checks += 1
        return False

    def checkpoint(self, _tx: None) -> None:
        return None

    def publish_checkpoint(self, _checkpoint: object) -> None:
        return None

    def publish_to_witnesses(self) -> None:
        return None

    def record_anchor(self, _tx: None, _anchored: object) -> None:
        return None


def _relay(
    outbox: Outbox, dispatcher: Dispatcher, audit: Audit, gather: float
) -> tuple[Relay[None], threading.Thread]:
    relay: Relay[None] = Relay(
        store=Store(),  # type: ignore[arg-type]
        outbox=outbox,  # type: ignore[arg-type]
        dispatcher=dispatcher,
        audit=audit,
        clock=lambda: datetime.now(UTC),
        lease_seconds=60,
        batch=10,
        interval=3600,  # only the first pass is a full one during the test
        gather=gather,
    )
    thread = threading.Thread(target=relay.run_forever, daemon=True)
    thread.start()
    return relay, thread


def test_wakes_claim_only_and_coalesce_within_the_gather_window() -> None:
    outbox, dispatcher, audit = Outbox(), Dispatcher(capacity=100), Audit()
    relay, thread = _relay(outbox, dispatcher, audit, gather=0.5)
    try:
        assert outbox.wait_for(lambda: outbox.claims == 1)  # the first, full pass
        with outbox.changed:
            outbox.due = 7
        for _ in range(7):  # seven messages stored in quick succession
            relay.wake()
        assert outbox.wait_for(lambda: sum(outbox.claimed) == 7)
        time.sleep(0.05)  # (a stray second claim would come at once)
        assert outbox.claimed == [0, 7]  # one claim for the seven wake-ups
        assert outbox.sweeps == 1  # maintenance stayed on its timer
        assert audit.checks == 1
    finally:
        relay.stop()
        thread.join(10)


def test_a_finished_batch_wakes_the_relay_only_when_it_was_out_of_capacity() -> None:
    outbox, dispatcher, audit = Outbox(), Dispatcher(capacity=1), Audit()
    relay, thread = _relay(outbox, dispatcher, audit, gather=0.0)
    try:
        assert outbox.wait_for(lambda: outbox.claims == 1)
        relay.capacity_freed()  # nothing was left waiting: no pass
        with outbox.changed:
            outbox.due = 25
        relay.wake()
        assert outbox.wait_for(lambda: outbox.claimed[-1] == 10)  # full batch, no capacity left
        claims = outbox.claims
        dispatcher.free = 1
        relay.capacity_freed()  # it stopped for want of capacity: claim the next batch
        assert outbox.wait_for(lambda: outbox.claims == claims + 1)
        assert outbox.claimed == [0, 10, 10]
    finally:
        relay.stop()
        thread.join(10)

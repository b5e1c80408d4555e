"""The relay: claims due deliveries from the outbox and dispatches their ids; also the sweeper.

One pass:
1. *Sweep*: in-flight deliveries whose lease expired become due again (their worker died, or
   the broker lost the batch). This is why nothing is lost: the database is the record, the
   broker only carries ids.
2. *Claim and dispatch*: due deliveries are claimed in batches (``in_flight`` under a lease,
   claim counter bumped) and committed **before** the ids are handed to the dispatcher, so a
   crash between the two only delays them until the lease expires.
3. *Receipts*: deliveries ``awaiting_receipt`` whose poll is due are polled
   (``hub.outbox.receipts``, given as ``receipts``), one quick request each.
4. *Checkpoint*: when due, copy the signed audit head into a checkpoint and publish it to
   the witnesses outside the host (and note what time-stamping anchored).
5. *Timers*: jobs registered with ``every`` (the retention job, ``hub.services.retention``)
   run when their own interval has passed on the monotonic clock (first one interval after
   registration), one after the other in the relay's thread; a failing job is logged and
   tried again at its next time.

Several relays may run side by side on PostgreSQL (``SKIP LOCKED``); on SQLite there is one.
The relay sleeps ``relay_interval`` when idle and wakes at once when ingest stores a message.
It depends on ports only (``hub.ports``: ``UnitOfWork``, ``OutboxClaims``, ``AuditCheckpoints``,
``Dispatcher``); whether claims ``SKIP LOCKED`` is the store's business.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from hub.ports import AuditCheckpoints, Dispatcher, OutboxClaims, UnitOfWork

log = logging.getLogger(__name__)

Tx = TypeVar("Tx")


@dataclass
class _Timer:
    name: str
    seconds: float
    job: Callable[[], object]
    due: float


@dataclass(frozen=True)
class PassResult:
    swept: int
    claimed: int


class Relay(Generic[Tx]):
    def __init__(
        self,
        *,
        store: UnitOfWork[Tx],
        outbox: OutboxClaims[Tx],
        dispatcher: Dispatcher,
        audit: AuditCheckpoints[Tx],
        clock: Callable[[], datetime],
        lease_seconds: float,
        batch: int,
        interval: float,
        receipts: Callable[[], int] | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._dispatcher = dispatcher
        self._audit = audit
        self._clock = clock
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch
        self._interval = interval
        self._receipts = receipts
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._timers: list[_Timer] = []

    def every(self, seconds: float, job: Callable[[], object], *, name: str) -> None:
        """Run ``job`` in the relay's loop every ``seconds`` (0: never), on its own timer."""
        if seconds > 0:
            self._timers.append(_Timer(name, seconds, job, time.monotonic() + seconds))

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_once(self, *, max_batches: int = 20) -> PassResult:
        now = self._clock()
        with self._store.write() as tx:
            swept = self._outbox.sweep(tx, now)
        if swept:
            log.warning("sweeper: %d in-flight deliveries lost their lease; due again", swept)
        claimed = 0
        for _ in range(min(max_batches, self._dispatcher.capacity())):
            with self._store.write() as tx:
                batch = self._outbox.claim(tx, self._clock(), self._lease, self._batch)
            if not batch:
                break
            claimed += len(batch)
            try:
                self._dispatcher.dispatch([(delivery_id, claim) for delivery_id, claim, _ in batch])
            except Exception:
                # Claimed but not carried: the lease expires and the sweeper re-offers them.
                log.exception("dispatch of %d failed; they retry after the lease", len(batch))
                break
            if len(batch) < self._batch:
                break
        if self._receipts is not None:
            try:
                self._receipts()
            except Exception:  # a destination that cannot be asked now is asked next pass
                log.exception("polling receipts failed; trying again next pass")
        try:
            self.checkpoint_if_due()
        except Exception:  # a late checkpoint lets nothing through; log it and go on delivering
            log.exception("signing an audit checkpoint failed; trying again next pass")
        self._run_timers()
        return PassResult(swept, claimed)

    def _run_timers(self) -> None:
        for timer in self._timers:
            now = time.monotonic()
            if now < timer.due:
                continue
            timer.due = now + timer.seconds
            try:
                timer.job()
            except Exception:  # a job that fails now runs again at its next time
                log.exception("%s failed; trying again in %.0f s", timer.name, timer.seconds)

    def checkpoint_if_due(self, *, force: bool = False) -> None:
        """Sign a checkpoint when due (or now, with ``force``: before a verification)."""
        with self._store.write() as tx:
            due = force or self._audit.checkpoint_due(tx)
            checkpoint = self._audit.checkpoint(tx) if due else None
        if checkpoint is not None:
            # Published only after commit: a rolled-back checkpoint must not exist outside.
            self._audit.publish_checkpoint(checkpoint)
        anchored = self._audit.publish_to_witnesses()  # retries a witness that failed
        if anchored is not None:
            with self._store.write() as tx:
                self._audit.record_anchor(tx, anchored)

    def run_forever(self) -> None:
        """Loop until ``stop()``: a pass, then sleep until woken or the interval passes."""
        while not self._stop.is_set():
            try:
                result = self.run_once()
            except Exception:
                log.exception("relay pass failed; trying again in %.1f s", self._interval)
                result = PassResult(0, 0)
            if result.claimed >= self._batch and self._dispatcher.capacity() > 0:
                continue  # more may be due right now
            self._wake.wait(self._interval)
            self._wake.clear()

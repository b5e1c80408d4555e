"""Dispatchers: how claimed delivery ids reach the code that executes them.

- ``InProcessDispatcher`` (embedded mode): a thread pool in the hub process runs the delivery
  engine directly. No broker at all: kombu's SQLAlchemy and filesystem transports were measured
  at 75–280 tasks/s, one task per second at prefetch 1, and losing tasks on a hard kill
  (docs/ARCHITECTURE.md); the database outbox plus this pool does the same job without them.
- ``CeleryDispatcher`` (scaled out): publishes each batch of ids as one Celery task to
  RabbitMQ (quorum queue, publisher confirms; see ``worker.py``).

Both carry ``(delivery id, claim)`` pairs only, never payloads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

DELIVER_TASK = "omsorgshub.deliver"


class InProcessDispatcher:
    def __init__(
        self, execute: Callable[[Sequence[tuple[str, int]]], object], workers: int
    ) -> None:
        self._execute = execute
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._pending: set[Future[object]] = set()
        self._on_done: Callable[[], None] = lambda: None

    def set_on_done(self, callback: Callable[[], None]) -> None:
        """Called after each batch: the relay wakes to claim more when it was at capacity."""
        self._on_done = callback

    def _run(self, claims: Sequence[tuple[str, int]]) -> object:
        try:
            return self._execute(claims)
        except Exception:
            # The claims stay in flight; the sweeper re-offers them when the lease expires.
            log.exception("delivery batch of %d failed", len(claims))
            raise

    def dispatch(self, claims: Sequence[tuple[str, int]]) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="deliver")
            future = self._pool.submit(self._run, list(claims))
            self._pending.add(future)
        future.add_done_callback(self._finished)

    def _finished(self, future: Future[object]) -> None:
        self._pending.discard(future)
        self._on_done()

    def capacity(self) -> int:
        # Two batches per thread: one running, one ready, so no thread idles between passes.
        return max(0, 2 * self._workers - len(self._pending))

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


class CeleryDispatcher:
    def __init__(self, app: Celery, queue: str) -> None:
        self._app = app
        self._queue = queue

    def dispatch(self, claims: Sequence[tuple[str, int]]) -> None:
        # With confirm_publish the call returns only once RabbitMQ has the message.
        self._app.send_task(DELIVER_TASK, args=[[list(c) for c in claims]], queue=self._queue)

    def capacity(self) -> int:
        # RabbitMQ holds the queue; workers take one batch at a time (prefetch 1).
        return 20

    def close(self) -> None:
        return None

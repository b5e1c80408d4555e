"""The bare Celery pipeline that ``end-to-end-scaled`` is compared with.

``celery -A bench.noop_celery:app worker`` runs a worker of the product's own Celery
configuration (``worker.make_celery``: ``acks_late``, ``reject_on_worker_lost``, prefetch 1,
JSON, publisher confirms, a quorum queue with the same arguments), but on a queue of its own
and with one task that does nothing except count the ids it carries: it appends one byte
per id to the file named by ``BENCH_NOOP_TALLY``, so the benchmark can tell when all have run,
whether each task carries one id or a batch of them.

The app is made on first access (``app`` is a module attribute created lazily), so importing
this module reads no settings.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

from hub.settings import Settings, load_settings

NOOP_QUEUE = "omsorgshub.bench.noop"
NOOP_TASK = "omsorgshub.bench.noop"
TALLY_ENV = "BENCH_NOOP_TALLY"


def _tally(ids: int) -> None:
    path = os.environ.get(TALLY_ENV)
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"." * ids)
        finally:
            os.close(fd)


def make_noop_app(settings: Settings) -> Celery:
    from worker import delivery_queue, make_celery

    app = make_celery(settings)
    app.conf.update(task_default_queue=NOOP_QUEUE, task_queues=[delivery_queue(NOOP_QUEUE)])

    @app.task(name=NOOP_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
    def noop(self: Any, claims: list[list[Any]]) -> int:
        _tally(len(claims))
        return len(claims)

    return app


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = make_noop_app(load_settings())
        return _app
    raise AttributeError(name)

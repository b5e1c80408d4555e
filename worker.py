"""The Celery app of the scaled-out mode: ``celery -A worker worker``.

Built from the same settings as everything else (``OMSORGSHUB_BROKER_URL`` and friends). The
broker carries only batches of ``(delivery id, claim)``; the database is the record and the
relay/sweeper (``omsorgshub relay``) re-offers anything a broker or worker lost.

RabbitMQ set-up, each measured or documented in docs/ARCHITECTURE.md:
- a quorum queue (replicated, durable) with a dead-letter exchange and a delivery limit, so a
  batch that kills its worker again and again is parked instead of looping;
- publisher confirms (``confirm_publish``): the relay commits a claim and then publishes; a
  publish RabbitMQ did not confirm raises, and the sweeper re-offers those ids after the lease;
- ``acks_late`` + ``reject_on_worker_lost``: a batch whose worker is killed goes back to the
  queue (measured: 0 of 600 lost under kill -9; 2 lost without ``reject_on_worker_lost``);
- no countdown/ETA: retry times live in the database (quorum queues mishandle ETA tasks).

The hub itself is built lazily in each worker process, after the fork (nothing at import).
"""

from __future__ import annotations

import threading
from typing import Any

from celery import Celery
from celery.signals import worker_init
from kombu import Exchange, Queue

from hub.bootstrap import Hub, build_hub
from hub.outbox.dispatch import DELIVER_TASK
from hub.settings import Settings, load_settings

QUEUE = "omsorgshub.deliver"
DEAD_LETTER_EXCHANGE = "omsorgshub.dead"
DEAD_LETTER_QUEUE = "omsorgshub.deliver.dead"
DELIVERY_LIMIT = 5  # redeliveries of one batch before RabbitMQ dead-letters it


def delivery_queue(name: str) -> Queue:
    """A quorum queue on a direct exchange of the same name that dead-letters a batch after
    ``DELIVERY_LIMIT`` redeliveries: the hub's ``QUEUE`` (the benchmark's no-op queue too)."""
    return Queue(
        name,
        Exchange(name, type="direct"),
        routing_key=name,
        queue_arguments={
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-delivery-limit": DELIVERY_LIMIT,
        },
    )


def make_celery(settings: Settings) -> Celery:
    app = Celery("omsorgshub", broker=settings.broker_url or "memory://", set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"confirm_publish": True},
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE,
        task_queues=[delivery_queue(QUEUE)],
        worker_hijack_root_logger=False,
        # Celery sets up RabbitMQ "native delayed delivery" (28 queues, celery_delayed_*)
        # whenever it sees a quorum queue. The hub never uses countdown/ETA (retry times live in
        # the database), so keep those idle queues cheap: classic, not quorum.
        broker_native_delayed_delivery_queue_type="classic",
    )
    return app


def declare_dead_letter(app: Celery) -> None:
    """Declare the dead-letter exchange and its queue (not consumed by workers; an operator
    inspects it, and the database still holds every delivery, so nothing there is lost)."""
    queue = Queue(
        DEAD_LETTER_QUEUE,
        Exchange(DEAD_LETTER_EXCHANGE, type="fanout"),
        routing_key="",
        queue_arguments={"x-queue-type": "quorum"},
    )
    with app.connection_for_write() as conn:
        queue(conn.default_channel).declare()


# Reading settings is the one thing done at import: Celery's ``-A worker`` needs ``app`` here.
_settings = load_settings()
app = make_celery(_settings)
_hub: Hub | None = None
_hub_lock = threading.Lock()


def _get_hub() -> Hub:
    global _hub
    with _hub_lock:
        if _hub is None:
            # A worker only executes: its dispatcher is never used (the relay claims elsewhere).
            from hub.api.logs import log_outcomes
            from hub.outbox.dispatch import CeleryDispatcher
            from hub.outbox.outcome_metrics import count_outcomes

            _hub = build_hub(_settings, dispatcher=CeleryDispatcher(app, QUEUE))
            # Outcomes happen here, not in the API: log them, and count them in metrics_dir.
            log_outcomes(_hub)
            count_outcomes(_hub)
        return _hub


@worker_init.connect
def _on_worker_init(**_kwargs: Any) -> None:
    declare_dead_letter(app)


@app.task(name=DELIVER_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)
def deliver(self: Any, claims: list[list[Any]]) -> int:
    outcomes = _get_hub().executor.execute([(str(c[0]), int(c[1])) for c in claims])
    return len(outcomes)

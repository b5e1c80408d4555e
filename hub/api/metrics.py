"""``GET /metrics``: Prometheus figures for operators. Counts only, never personal data.

- ``omsorgshub_deliveries{destination,state}`` — deliveries now in each state, read from the
  database at scrape time (so every API process reports the same truth, whichever worker did
  the delivering);
- ``omsorgshub_delivery_outcomes_total{destination,state}`` — attempt outcomes this process
  recorded since it started (embedded mode: all of them);
- ``omsorgshub_up`` — 1 when the database answered the scrape.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from hub.outbox.delivery import AttemptOutcome
from hub.storage import messages as message_rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._outcomes: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        hub.on_outcome(self._count)

    def _count(self, outcome: AttemptOutcome) -> None:
        with self._lock:
            self._outcomes[outcome.destination, outcome.state.value] += 1

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("omsorgshub_up", "1 when the database answered this scrape")
        current = GaugeMetricFamily(
            "omsorgshub_deliveries",
            "Deliveries now in each state, from the database",
            labels=["destination", "state"],
        )
        try:
            with self._hub.reader.connect() as conn:
                counts = message_rows.count_by_state(conn)
        except SQLAlchemyError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for destination, states in sorted(counts.items()):
                for state, n in sorted(states.items()):
                    current.add_metric([destination, state], n)
        yield up
        yield current
        outcomes = CounterMetricFamily(
            "omsorgshub_delivery_outcomes",
            "Delivery attempt outcomes recorded by this process",
            labels=["destination", "state"],
        )
        with self._lock:
            for (destination, state), n in sorted(self._outcomes.items()):
                outcomes.add_metric([destination, state], n)
        yield outcomes


def metrics_registry(hub: Hub) -> CollectorRegistry:
    """A registry of its own per app (the process-global one would mix several hubs)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(HubCollector(hub))
    registry.register(hub.guards.audit.alarm)  # omsorgshub_audit_integrity_alarm(s)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)

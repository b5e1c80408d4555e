"""``GET /metrics``: Prometheus figures for operators. Counts only, never personal data.

- ``omsorgshub_deliveries{destination,state}`` — deliveries now in each state, read from the
  database at scrape time (so every API process reports the same truth, whichever worker did
  the delivering);
- ``omsorgshub_delivery_outcomes_total{destination,state}`` — attempt outcomes recorded since
  they started by this process or, with ``metrics_dir``, by every process that shares the
  folder (Celery workers included; see ``hub.outbox.outcome_metrics``);
- ``omsorgshub_up`` — 1 when the database answered the scrape;
- ``omsorgshub_referrals{district,state}`` — referrals now ``open`` (in time) and ``overdue``
  (past their callback deadline, not answered), from the database;
- ``omsorgshub_alerts{kind,subject}`` — the overview's alerts now (``hub.services.overview``:
  ``dead_letters_rising``, ``destination_down`` with the destination as subject,
  ``checkpoint_overdue``), valued by their count (dead letters, deliveries waiting, entries
  unsigned); absent when none holds;
- ``omsorgshub_http_request_duration_seconds{method,route,status}`` — a histogram of this API
  process's request latency, by route template (``/api/v1/messages/{message_id}``, never the
  id itself) and status; requests no route matched count as ``route="unmatched"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.outbox.outcome_metrics import OutcomeCounter, count_outcomes
from hub.services.health import deliveries_by_state
from hub.services.overview import current_alerts
from hub.services.referrals import open_referral_counts

if TYPE_CHECKING:
    from hub.bootstrap import Hub

# Seconds: ingest answers after a group commit (a few ms to a few hundred under load).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HubCollector(Collector):
    def __init__(self, hub: Hub, outcomes: OutcomeCounter) -> None:
        self._hub = hub
        self._outcomes = outcomes

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("omsorgshub_up", "1 when the database answered this scrape")
        current = GaugeMetricFamily(
            "omsorgshub_deliveries",
            "Deliveries now in each state, from the database",
            labels=["destination", "state"],
        )
        counts = deliveries_by_state(self._hub.reader)
        if counts is None:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for destination, states in sorted(counts.items()):
                for state, n in sorted(states.items()):
                    current.add_metric([destination, state], n)
        yield up
        yield current
        referrals = GaugeMetricFamily(
            "omsorgshub_referrals",
            "Referrals now open in time and overdue (callback deadline passed), per district",
            labels=["district", "state"],
        )
        for district, states in sorted((open_referral_counts(self._hub) or {}).items()):
            for state, n in sorted(states.items()):
                referrals.add_metric([district, state], n)
        yield referrals
        alerts = GaugeMetricFamily(
            "omsorgshub_alerts",
            "Alerts now (the console's overview), valued by their count",
            labels=["kind", "subject"],
        )
        for alert in current_alerts(self._hub) or []:
            alerts.add_metric([alert.kind, alert.subject], alert.count)
        yield alerts
        yield from self._outcomes.collect()


class RequestLatency:
    """ASGI middleware: observe each HTTP request's duration by route template and status."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.histogram.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


def metrics_registry(hub: Hub) -> tuple[CollectorRegistry, Histogram]:
    """A registry of its own per app (the process-global one would mix several hubs), and the
    latency histogram that ``RequestLatency`` feeds."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(HubCollector(hub, count_outcomes(hub)))
    registry.register(hub.guards.audit.alarm)  # omsorgshub_audit_integrity_alarm(s)
    latency = Histogram(
        "omsorgshub_http_request_duration_seconds",
        "HTTP request latency of this API process, by route template and status",
        ["method", "route", "status"],
        registry=registry,
        buckets=LATENCY_BUCKETS,
    )
    return registry, latency


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)

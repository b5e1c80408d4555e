"""Why an append refuses, and the integrity alarm an operator must answer.

When what the database holds differs from what the hub wrote (a head no hub signed, an entry
beyond the head, a head that went backwards), ``IntegrityAlarm.trip`` logs a critical line,
counts it for Prometheus and keeps the process *closed*: every later append refuses with
``IntegrityAlarmError`` (the hub maps it to 503 ``GuardUnavailable``), so nothing touches
personal data unaudited. Readiness and ``/metrics`` read the same object.

The alarm lifts only when an operator has looked and run ``omsorgshub audit acknowledge``: that
appends an ``audit_acknowledged`` entry and signs the head as it stands. Every process notices
the acknowledgement at its next append (the head is then signed, later than the alarm, and its
last entry is the acknowledgement); no process lifts its own alarm otherwise.

Exceptions here are plain ``Exception`` subclasses with a stable ``reason``: ``audit/`` imports
nothing of the hub, which maps them at its boundary (``hub.guards``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("audit.alarm")


class AuditRefusedError(Exception):
    """The trail refuses to append; ``reason`` is a stable code for the caller's error."""

    reason = "audit_refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class IntegrityAlarmError(AuditRefusedError):
    """The database holds what the hub did not write; closed until acknowledged."""

    reason = "audit_integrity_alarm"


class AnchorOverdueError(AuditRefusedError):
    """Time-stamping has failed for longer than allowed; closed until it succeeds again."""

    reason = "audit_anchor_overdue"


@dataclass(frozen=True)
class AlarmState:
    since: datetime
    detail: str


class IntegrityAlarm(Collector):
    """The process's alarm: tripped by the trail, read by readiness and ``/metrics``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: AlarmState | None = None
        self._tripped = 0

    @property
    def state(self) -> AlarmState | None:
        return self._state

    @property
    def raised(self) -> bool:
        return self._state is not None

    def trip(self, detail: str, at: datetime) -> IntegrityAlarmError:
        """Raise the alarm (kept from the first trip on) and return the error to raise."""
        with self._lock:
            self._tripped += 1
            if self._state is None:
                self._state = AlarmState(since=at, detail=detail)
        log.critical("AUDIT INTEGRITY ALARM: %s; appends refused until acknowledged", detail)
        return self.error()

    def error(self) -> IntegrityAlarmError:
        state = self._state
        detail = state.detail if state else "unknown"
        return IntegrityAlarmError(
            f"the audit trail holds entries the hub did not write ({detail}); nothing is "
            "processed until an operator runs `omsorgshub audit verify` and "
            "`omsorgshub audit acknowledge`"
        )

    def clear(self) -> None:
        with self._lock:
            if self._state is not None:
                log.warning("audit integrity alarm acknowledged: %s", self._state.detail)
            self._state = None

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "omsorgshub_audit_integrity_alarm",
            "1 while this process refuses appends because the trail holds what the hub did "
            "not write",
        )
        gauge.add_metric([], 1 if self.raised else 0)
        yield gauge
        counter = CounterMetricFamily(
            "omsorgshub_audit_integrity_alarms",
            "Integrity mismatches this process detected since it started",
        )
        counter.add_metric([], self._tripped)
        yield counter

"""What operators and load balancers watch: readiness (``/readyz``) and the deliveries in each
state (``/metrics``).

Ready means every dependency the API needs to accept a message answers now: the database (the
record) and, in the scaled-out mode, the broker that carries delivery ids to the workers. A hub
that accepts messages while RabbitMQ is down still loses nothing (the relay re-offers them when
it is back), but a load balancer should prefer a process whose broker answers, and an operator
should see which dependency is missing: the answer names it as ``reason``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from kombu import Connection
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from hub.storage import messages as message_rows

log = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Check:
    reason: str  # the reason code when it fails, e.g. ``database_unreachable``
    probe: Callable[[], None]  # raises when the dependency does not answer


def database_check(engine: Engine) -> Check:
    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return Check("database_unreachable", probe)


def broker_check(url: str) -> Check:
    """Open and close one connection to the broker, without retrying: ready is about now."""

    def probe() -> None:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)

    return Check("broker_unreachable", probe)


def audit_alarm_check(alarm_raised: Callable[[], bool]) -> Check:
    """Not ready while the audit integrity alarm is up: appends refuse until an operator has
    investigated and acknowledged it (``omsorgshub audit acknowledge``)."""

    def probe() -> None:
        if alarm_raised():
            raise RuntimeError("audit integrity alarm")

    return Check("audit_integrity_alarm", probe)


def first_failure(checks: list[Check]) -> str | None:
    """The reason code of the first check that fails, or None when all answer."""
    for check in checks:
        try:
            check.probe()
        except Exception as exc:  # any failure of a dependency means "not ready"
            log.warning("not ready: %s: %s", check.reason, type(exc).__name__)
            return check.reason
    return None


def deliveries_by_state(reader: Engine) -> dict[str, dict[str, int]] | None:
    """Deliveries now in each state per destination, from the database; None when it does not
    answer (the scrape then says ``omsorgshub_up 0`` rather than failing)."""
    try:
        with reader.connect() as conn:
            return message_rows.count_by_state(conn)
    except SQLAlchemyError:
        return None

"""The hub's upkeep on the relay's own timer: what ``serve`` (embedded relay) and ``omsorgshub
relay`` schedule before they start.

- the retention job (``hub.services.retention``), every ``retention_interval_seconds``;
- the sync of protected-identity marks from the case systems (``hub.services.protected_sync``),
  every ``protected_sync_interval_seconds``;
- the query planner's statistics on SQLite (``hub.storage.planner``), once at start and every
  ``planner_statistics_seconds``.

A failing job is logged and tried again at its next time (``Relay.every``); the first refresh
of the statistics at start is allowed to fail the same way (a read-only or full disk must not
keep the hub from serving).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from hub.services.protected_sync import schedule_protected_sync
from hub.services.retention import schedule_retention
from hub.storage.planner import refresh_statistics

if TYPE_CHECKING:
    from hub.bootstrap import Hub

log = logging.getLogger(__name__)


def schedule_upkeep(hub: Hub) -> None:
    schedule_retention(hub)
    schedule_protected_sync(hub)
    seconds = hub.settings.planner_statistics_seconds
    if seconds <= 0:
        return
    try:
        refresh_statistics(hub.engine)
    except SQLAlchemyError as exc:
        log.warning("planner statistics: not refreshed at start (%s); next in %.0f s", exc, seconds)
    hub.relay.every(seconds, lambda: refresh_statistics(hub.engine), name="planner statistics")

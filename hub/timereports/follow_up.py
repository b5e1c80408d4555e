"""What ingest writes beside stored visits (``hub.ports.FollowUps``): their batch's row.

Every stored ``timereport.visit`` v2 counts into the row of its batch (its plain business keys
``provider`` and ``batch_id``), in the transaction that stores it, whichever face it came
through: a JSON or CSV batch, or XML envelopes posted one by one. A new row is ``held``; the
visits' deliveries are stored ``held`` too (the type is ``held_for_approval``) until the
provider approves the batch (``hub.services.timereports``). The row's warning of a high share
of manual confirmations is recomputed from the batch's stored visits (their plain business key
``confirmation``) in the same transaction, so a batch that arrives a visit at a time gets it too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from hub.ingest.records import NewMessage
from hub.ports import FollowUps
from hub.storage import timereports as rows
from hub.timereports.checks import manual_share_of
from hub.timereports.document import VISIT_V2

log = logging.getLogger(__name__)


class BatchCounter:
    """``FollowUps`` for time reports, on the SQL store."""

    def __init__(self, clock: Callable[[], datetime], manual_share: float) -> None:
        self._clock = clock
        self._manual_share = manual_share

    def stored(self, tx: Connection, batch: Sequence[NewMessage]) -> None:
        counts: dict[tuple[str, str, str, str], int] = {}
        for new in batch:
            m = new.message
            if (m.message_type, m.version) != VISIT_V2:
                continue
            keys = dict(new.business_keys)
            key = (keys.get("provider", ""), keys.get("batch_id", ""), m.sender, m.district)
            counts[key] = counts.get(key, 0) + 1
        for (provider, batch_id, sender, district), n in sorted(counts.items()):
            registered = rows.provider_row(tx, provider)
            if registered is None or registered.system != sender:
                # an XML visit naming a provider its sender does not report for: stored held
                # (its agreement allowed the sender), but in no batch, so never released
                log.warning("time report of %s names provider %s: in no batch", sender, provider)
                continue
            rows.count_visits(tx, provider, batch_id, sender, district, n, self._clock())
            self._warn(tx, provider, batch_id, sender)

    def _warn(self, tx: Connection, provider: str, batch_id: str, sender: str) -> None:
        batch = rows.batch_row(tx, provider, batch_id)
        if batch is None:
            return
        manual = rows.manual_visits(tx, provider, batch_id, sender)
        warning = manual_share_of(manual, batch.visits, self._manual_share)
        rows.set_warnings(tx, provider, batch_id, [warning.as_dict()] if warning else [])


class FollowUpChain:
    """Several ``FollowUps`` in turn, in one transaction (referrals, then time reports)."""

    def __init__(self, *chain: FollowUps[Connection]) -> None:
        self._chain = chain

    def stored(self, tx: Connection, batch: Sequence[NewMessage]) -> None:
        for follow_up in self._chain:
            follow_up.stored(tx, batch)

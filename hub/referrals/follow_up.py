"""Referral follow-up: open a callback deadline per referral, close it when the district answers.

Design: a ``referrals`` table written at ingest, through the ``FollowUps`` port, in the very
transaction (and savepoint) that stores the messages. The alternative, deriving open and
overdue referrals from business keys by a query, would need the deadline at query time for
every referral ever received (a working-day calendar is no SQL expression) and a join of the
answers against the referrals for every listing; a row written once, with its deadline worked
out when the referral arrives, is one indexed range scan to list and one update to close, and
it cannot disagree with itself when the calendar settings change later (a deadline promised is
kept). Both writes ride in a transaction that commits anyway, so they cost no fsync.

- **Opening**: a stored message of a type in ``OPENS`` (``case.referral``) gets a row with its
  district, urgency (its plain business key), the contact centre's ``RegisteredAt`` for display
  and a deadline counted from the hub's ``received_at`` (``hub.referrals.calendar``). The hub's
  time, not ``RegisteredAt``, because the district's duty begins when its mailbox can have the
  referral, because the hub's clock is the one the deadline is checked against, and because a
  sender's clock (or a backdated field) must not shorten or lengthen a district's deadline. The
  hub also stores, as the referral's business key ``sdk_message_id``, the SDK message id each of
  its deliveries is sent under (``answer_id``: ``adapters.sdk.ids.sdk_message_id``), so a reply
  that names it finds the referral by exact match.
- **Closing**, generic over message types: a stored message whose business keys include one of
  ``ANSWERS`` closes the open referrals *of its own district* whose key (``sdk_message_id`` or
  ``case_id``) has that value, with the answering message's receipt time, its key name (how)
  and its hub id. ``case_id`` and ``answers_referral`` are both keyed HMACs of the contact
  centre's case number (``Hmacs.business_key`` binds no key name), so they match without the
  number being stored. All open referrals of that case in that district close: a re-referral of
  a case is answered by the same call. An answer that arrives before its referral closes
  nothing (a referral cannot be answered before the district has it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Connection

from hub.ingest.records import NewMessage
from hub.referrals.calendar import NORMAL, CallbackCalendar
from hub.storage import referrals as referral_rows

log = logging.getLogger(__name__)

OPENS = frozenset({"case.referral"})
SDK_MESSAGE_ID = "sdk_message_id"
# An answering message's business key -> the referral's key it must equal.
ANSWERS = {
    "sdk_conversation_id": SDK_MESSAGE_ID,
    "sdk_ref_to_message_id": SDK_MESSAGE_ID,
    "answers_referral": "case_id",
}


class ReferralFollowUp:
    """``hub.ports.FollowUps`` for referrals, on the SQL store."""

    def __init__(
        self,
        calendar: CallbackCalendar,
        *,
        answer_id: Callable[[str], str] | None = None,
        opens: frozenset[str] = OPENS,
    ) -> None:
        self.calendar = calendar
        self._answer_id = answer_id
        self._opens = opens

    def stored(self, tx: Connection, batch: Sequence[NewMessage]) -> None:
        opened: list[dict[str, object]] = []
        derived: list[tuple[str, str, str]] = []
        for new in batch:
            if new.message.message_type in self._opens:
                opened.append(self._opening(new))
                if self._answer_id is not None:
                    derived += [
                        (new.message.id, SDK_MESSAGE_ID, self._answer_id(delivery_id))
                        for delivery_id, _ in new.delivery_ids
                    ]
        referral_rows.insert_keys(tx, derived)
        referral_rows.insert_referrals(tx, opened)
        for new in batch:
            for name, value in new.business_keys:
                if name in ANSWERS:
                    self._close(tx, new, name, value)

    def _opening(self, new: NewMessage) -> dict[str, object]:
        m = new.message
        keys = dict(new.business_keys)
        urgency = keys.get("urgency", NORMAL)
        return {
            "message_id": m.id,
            "district": m.district,
            "urgency": urgency,
            "registered_at": _zoned(keys.get("registered_at")),
            "received_at": m.received_at,
            "deadline": self.calendar.deadline(urgency, m.received_at),
            # No ordering unit named: the case belongs to the district's own.
            "ordering_unit": keys.get("ordering_unit", m.district),
            "main_category": keys.get("main_category"),
            "case_type": keys.get("case_type"),
            "case_class": keys.get("case_class"),
        }

    def _close(self, tx: Connection, new: NewMessage, name: str, value: str) -> None:
        m = new.message
        closed = referral_rows.close_matching(
            tx,
            district=m.district,
            name=ANSWERS[name],
            value=value,
            closed_at=m.received_at,
            how=name,
            by=m.id,
        )
        if closed:
            log.info("%d referral(s) of %s closed by %s (%s)", closed, m.district, m.id, name)


def _zoned(text: str | None) -> datetime | None:
    """An xs:dateTime with its offset (the type requires one), or None."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None

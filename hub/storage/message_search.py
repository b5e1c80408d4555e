"""The operators' message queries: search by metadata and business keys, counts per
destination and state, dead letters. Metadata only: no query here reads a ciphertext.

Every query takes the districts the reader may see (``None``: all) and applies them in SQL,
before any limit, so a scoped page is never cut short by rows its reader may not see.

Which index serves which query (``docs/BENCHMARKS.md``, ``bench/scenarios/console_search.py``
measure them at a million messages):

- time window, district, type: ``ix_messages_overview`` (district, received_at, …), or
  ``ix_messages_received_at`` when every district is visible;
- a business key: the primary key of ``business_keys`` (name, value, message_id);
- the sender's message id: ``ix_messages_idempotency_key``;
- a delivery state other than ``delivered``: ``ix_deliveries_due`` (state, next_attempt_at)
  drives the query from the few deliveries in that state; ``delivered`` (most of them) is
  checked per message through ``ix_deliveries_message`` instead;
- counts of open states and dead letters of one's districts: ``ix_deliveries_scope`` (state,
  district, destination) — the district copied onto each delivery at ingest.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, exists, func, or_, select

from hub.envelope import DeliveryState
from hub.storage.deliveries import DeliveryRow
from hub.storage.messages import MessageSummary, summaries
from hub.storage.tables import business_keys, deliveries, messages

# States a delivery leaves: counted however old (a dead letter of last month still needs
# someone). The final ones are counted over the page's time window only.
OPEN_STATES = (
    DeliveryState.PENDING.value,
    DeliveryState.IN_FLIGHT.value,
    DeliveryState.RETRYING.value,
    DeliveryState.AWAITING_RECEIPT.value,
    DeliveryState.HELD.value,
    DeliveryState.DEAD.value,
)
FINAL_STATES = (
    DeliveryState.DELIVERED.value,
    DeliveryState.REFUSED.value,
    DeliveryState.REJECTED.value,
)
_COMMON_STATE = DeliveryState.DELIVERED.value  # most deliveries: checked per message
# At most this many messages per business key value or sender's message id (a case has a few;
# more than this is no search an operator pages through).
MAX_NARROWED = 10_000


@dataclass(frozen=True)
class MessageQuery:
    """What a search asks. ``key_values`` are the stored forms of one business key's value
    (its HMAC, its plain text, or both when types differ); ``before`` is the keyset cursor
    (received_at, id) of the last row of the previous page."""

    districts: frozenset[str] | None
    since: datetime | None = None
    until: datetime | None = None
    state: str | None = None
    destination: str | None = None
    message_type: str | None = None
    key_name: str | None = None
    key_values: tuple[str, ...] = ()
    sender_message_id: str | None = None
    before: tuple[datetime, str] | None = None
    limit: int = 50


def search(conn: Connection, q: MessageQuery) -> list[MessageSummary]:
    """The newest messages matching ``q`` (at most ``q.limit``), with their delivery states."""
    m = messages.c
    query = select(m.id)
    if q.state and q.state != _COMMON_STATE:
        # A rare state: start from its deliveries (few), then their messages.
        wanted = [deliveries.c.state == q.state]
        if q.destination:
            wanted.append(deliveries.c.destination == q.destination)
        query = query.where(m.id.in_(select(deliveries.c.message_id).where(*wanted)))
    elif q.state or q.destination:
        d = deliveries.c
        checks = [d.message_id == m.id]
        if q.state:
            checks.append(d.state == q.state)
        if q.destination:
            checks.append(d.destination == q.destination)
        query = query.where(exists().where(*checks))
    if q.districts is not None:
        query = query.where(m.district.in_(sorted(q.districts)))
    if q.since is not None:
        query = query.where(m.received_at >= q.since)
    if q.until is not None:
        query = query.where(m.received_at < q.until)
    if q.message_type:
        query = query.where(m.message_type == q.message_type)
    narrowed = _narrowed(conn, q)
    if narrowed is not None:
        if not narrowed:
            return []
        query = query.where(m.id.in_(narrowed))
    if q.before is not None:
        at, last_id = q.before
        query = query.where(or_(m.received_at < at, and_(m.received_at == at, m.id < last_id)))
    ids = list(
        conn.execute(query.order_by(m.received_at.desc(), m.id.desc()).limit(q.limit)).scalars()
    )
    return summaries(conn, ids)


def _narrowed(conn: Connection, q: MessageQuery) -> list[str] | None:
    """The ids a business key or the sender's message id names (few), looked up first on
    their own index: in one statement, SQLite's planner preferred walking the district's
    messages in time order and testing each (200 ms at 50,000 messages instead of 1)."""
    found: list[str] | None = None
    if q.key_name and q.key_values:
        bk = business_keys.c
        keyed = select(bk.message_id).where(bk.name == q.key_name, bk.value.in_(q.key_values))
        found = list(conn.execute(keyed.limit(MAX_NARROWED)).scalars())
    if q.sender_message_id:
        named = select(messages.c.id).where(messages.c.idempotency_key == q.sender_message_id)
        ids = list(conn.execute(named.limit(MAX_NARROWED)).scalars())
        found = ids if found is None else [i for i in found if i in set(ids)]
    return found


def counts(
    conn: Connection, districts: Collection[str] | None, since: datetime
) -> dict[str, dict[str, int]]:
    """Deliveries per destination and state: open states however old (``ix_deliveries_scope``
    alone), final states of messages received since ``since``."""
    d, m = deliveries.c, messages.c
    out: dict[str, dict[str, int]] = {}
    open_query = select(d.destination, d.state, func.count()).where(d.state.in_(OPEN_STATES))
    final_query = (
        select(d.destination, d.state, func.count())
        .select_from(messages.join(deliveries, d.message_id == m.id))
        .where(m.received_at >= since, d.state.in_(FINAL_STATES))
    )
    if districts is not None:
        scope = sorted(districts)
        open_query = open_query.where(d.district.in_(scope))
        final_query = final_query.where(m.district.in_(scope))
    for query in (open_query, final_query):
        for destination, state, n in conn.execute(query.group_by(d.destination, d.state)):
            out.setdefault(destination, {})[state] = n
    return out


@dataclass(frozen=True)
class DeadLetter:
    delivery: DeliveryRow
    message_type: str
    district: str
    received_at: datetime


def dead_letters(
    conn: Connection, districts: Collection[str] | None, destination: str | None, limit: int
) -> tuple[list[DeadLetter], int]:
    """Dead deliveries (newest first, at most ``limit``) and how many there are in all."""
    d, m = deliveries.c, messages.c
    where = [d.state == DeliveryState.DEAD.value]
    if destination:
        where.append(d.destination == destination)
    if districts is not None:
        where.append(d.district.in_(sorted(districts)))
    total = conn.execute(select(func.count()).where(*where)).scalar_one()
    joined = messages.join(deliveries, d.message_id == m.id)
    rows = conn.execute(
        select(deliveries, m.message_type, m.district, m.received_at)
        .select_from(joined)
        .where(*where)
        .order_by(d.updated_at.desc(), d.id)
        .limit(limit)
    ).all()
    found = []
    for r in rows:
        fields = {f: r._mapping[deliveries.c[f]] for f in DeliveryRow.__dataclass_fields__}
        found.append(DeadLetter(DeliveryRow(**fields), r.message_type, r.district, r.received_at))
    return found, int(total)

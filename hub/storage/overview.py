"""The overview's figures, aggregated by the database: messages per district and type, and
deliveries per destination and state, in time buckets since a moment; latencies as a histogram;
what the alerts look at (dead letters in a window, destinations whose deliveries keep retrying).

Each query reads an index and a few columns, never a payload: the messages of a window through
``ix_messages_overview`` (district, received_at, message_type, id — covering, so the table is not
read); the deliveries of a window through ``ix_deliveries_overview`` (district, created_at,
destination, state, delivered_at, attempts — covering too), by their own district and time: a
delivery is made with its message, in the same transaction, so its ``created_at`` is the
message's ``received_at`` and its ``district`` the message's. (Joining each delivery to its
message instead read a million rows of the messages table for a hub-wide day at a million
messages: 18 s.) The last delivery of a destination comes through
``ix_deliveries_destination_delivered``, the dead letters of a window through
``ix_deliveries_state_updated``. Time buckets and latencies are computed in SQL (one expression
per dialect) so that a million messages come back as a few hundred rows. Percentiles come from
the histogram in Python: SQLite has no ``percentile_cont``, and one code path for both databases
is one to test.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)

from hub.envelope import DeliveryState
from hub.storage.tables import deliveries, district_keys, messages

# Upper bounds (seconds) of the latency histogram's classes; a last class holds the rest.
LATENCY_BOUNDS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600)
NOT_DELIVERED = -1  # the latency class of a delivery not (yet) delivered


@dataclass(frozen=True)
class MessageCount:
    bucket: int  # the time bucket, counted from ``since`` in steps
    district: str
    message_type: str
    count: int


@dataclass(frozen=True)
class DeliveryCount:
    bucket: int
    destination: str
    state: str
    latency_class: int  # index into LATENCY_BOUNDS (len: beyond the last), or NOT_DELIVERED
    count: int
    retries: int  # attempts beyond each delivery's first


@dataclass(frozen=True)
class Retrying:
    destination: str
    deliveries: int
    oldest: datetime  # when the longest-waiting of them was made


def _epoch(conn: Connection, column: ColumnElement[datetime]) -> ColumnElement[int]:
    if conn.dialect.name == "sqlite":  # naive UTC text: strftime reads it as UTC
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(func.extract("epoch", column)), BigInteger)


def _seconds_between(
    conn: Connection, start: ColumnElement[datetime], end: ColumnElement[datetime]
) -> ColumnElement[float]:
    if conn.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * literal(86_400.0)
    return cast(func.extract("epoch", end - start), Float)


def _bucket(
    conn: Connection, column: ColumnElement[datetime], since: datetime, step: int
) -> ColumnElement[int]:
    offset = _epoch(conn, column) - literal(int(since.timestamp()))
    return cast(offset // literal(step), Integer)


def _districts(conn: Connection, districts: Collection[str] | None) -> list[str]:
    """The districts to seek, as an ``IN`` list, so that every query seeks its index by
    district and time. Every district means every district with a data key: no message is
    stored without its district's key, and a short list of seeks beats a scan of the index."""
    if districts is None:
        districts = conn.execute(select(district_keys.c.district).distinct()).scalars().all()
    return sorted(districts)


def message_counts_query(
    conn: Connection, since: datetime, step: int, districts: Collection[str] | None
) -> Select[Any]:
    m = messages.c
    bucket = _bucket(conn, m.received_at, since, step).label("bucket")
    return (
        select(bucket, m.district, m.message_type, func.count().label("n"))
        .where(m.received_at >= since, m.district.in_(_districts(conn, districts)))
        .group_by(bucket, m.district, m.message_type)
    )


def message_counts(
    conn: Connection, since: datetime, step: int, districts: Collection[str] | None
) -> list[MessageCount]:
    """Messages received since ``since``, per ``step``-second bucket, district and type."""
    query = message_counts_query(conn, since, step, districts)
    return [
        MessageCount(int(r.bucket), r.district, r.message_type, int(r.n))
        for r in conn.execute(query)
    ]


def delivery_counts(
    conn: Connection, since: datetime, step: int, districts: Collection[str] | None
) -> list[DeliveryCount]:
    """The deliveries of the messages received since ``since``: per bucket (of the message's
    arrival, which is the delivery's ``created_at``), destination, state and latency class,
    with their retries."""
    d = deliveries.c
    latency = _seconds_between(conn, d.created_at, d.delivered_at)
    classes = [(latency <= bound, i) for i, bound in enumerate(LATENCY_BOUNDS)]
    latency_class = case(
        (d.delivered_at.is_(None), NOT_DELIVERED), *classes, else_=len(LATENCY_BOUNDS)
    ).label("latency_class")
    bucket = _bucket(conn, d.created_at, since, step).label("bucket")
    retries = func.sum(case((d.attempts > 1, d.attempts - 1), else_=0)).label("retries")
    query = (
        select(bucket, d.destination, d.state, latency_class, func.count().label("n"), retries)
        .where(d.created_at >= since, d.district.in_(_districts(conn, districts)))
        .group_by(bucket, d.destination, d.state, latency_class)
    )
    return [
        DeliveryCount(
            int(r.bucket),
            r.destination,
            r.state,
            int(r.latency_class),
            int(r.n),
            int(r.retries or 0),
        )
        for r in conn.execute(query)
    ]


def dead_between(
    conn: Connection, start: datetime, end: datetime, districts: Collection[str] | None
) -> int:
    """Deliveries that became dead in (start, end] (their last change is the death)."""
    d = deliveries.c
    query = select(func.count()).where(
        d.state == DeliveryState.DEAD.value, and_(d.updated_at > start, d.updated_at <= end)
    )
    if districts is not None:  # the window's dead letters are few: filtered on their rows
        query = query.where(d.district.in_(sorted(districts)))
    return int(conn.execute(query).scalar_one())


def retrying(conn: Connection, districts: Collection[str] | None) -> list[Retrying]:
    """Destinations with deliveries waiting for another attempt, and the oldest of them.

    Counted hub-wide first (an outage can leave tens of thousands retrying); a scoped
    principal then sees only destinations with retrying deliveries of its own districts, and
    only those counted (``ix_deliveries_scope``: state, district, destination)."""
    d = deliveries.c
    waiting = d.state == DeliveryState.RETRYING.value
    hub_wide = select(d.destination, func.count().label("n"), func.min(d.created_at).label("at"))
    # min() and max() keep their column's type: the values come back as aware UTC datetimes.
    found = [
        Retrying(r.destination, int(r.n), r.at)
        for r in conn.execute(hub_wide.where(waiting).group_by(d.destination))
    ]
    if districts is None:
        return found
    scoped = []
    for r in found:
        mine = conn.execute(
            select(func.count(), func.min(d.created_at)).where(
                waiting, d.destination == r.destination, d.district.in_(sorted(districts))
            )
        ).one()
        if mine[0]:
            scoped.append(Retrying(r.destination, int(mine[0]), mine[1]))
    return scoped


def last_delivered(conn: Connection, destinations: Sequence[str]) -> dict[str, datetime]:
    """When each destination last took a delivery (whichever district's): absent if never."""
    d = deliveries.c
    found: dict[str, datetime] = {}
    for name in destinations:  # one index seek each: max() of (destination, delivered_at)
        at = conn.execute(
            select(func.max(d.delivered_at)).where(
                d.destination == name, d.delivered_at.is_not(None)
            )
        ).scalar()
        if at is not None:
            found[name] = at
    return found

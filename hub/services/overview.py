"""The overview: how the hub's traffic goes for the districts a principal acts for, and what
needs a person's attention now.

Figures of a window (the last hour, day or week): messages per district, type and destination
over time, delivery latency percentiles, retries and dead letters per destination. Alerts: dead
letters rising, a destination that stays down, an audit checkpoint overdue — each threshold a
documented setting (``alert_*``). The database aggregates (``hub.storage.overview``); nothing
here reads a payload or a person, so looking is not audited (counts name no one).

Who sees which figures: the districts of the principal, as everywhere. A console person sees
the districts of every role it holds (``overview_principal``): counts are no personal data, and
a district administrator or an officer is as entitled as an operator to know whether its
district's traffic flows. A hub administrator and the operator at the command line see all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from audit.state import oldest_unsigned_at, trail_state
from hub.envelope import DeliveryState
from hub.errors import Forbidden, InputError
from hub.services.principal import Kind, Principal
from hub.services.users import Person, Role
from hub.storage import overview as rows

if TYPE_CHECKING:
    from hub.bootstrap import Hub

# The windows offered (hours) and the width of one bar in each (seconds).
WINDOWS: Mapping[int, int] = {1: 5 * 60, 24: 3600, 168: 6 * 3600}
DEFAULT_HOURS = 24
PERCENTILES = (50, 90, 99)
_READERS = (Kind.OPERATOR, Kind.HUB_ADMIN, Kind.DISTRICT_ADMIN, Kind.DPO)


@dataclass(frozen=True)
class Series:
    """One line of a chart: a count per time bucket."""

    name: str
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True)
class DestinationFigures:
    destination: str
    deliveries: int
    delivered: int
    waiting: int  # pending, in flight, retrying, awaiting a receipt, held
    dead: int
    refused: int
    retries: int  # attempts beyond each delivery's first
    # Latency from acceptance to delivery, as the upper bound of the histogram class the
    # percentile falls in (seconds; inf beyond the last bound; None: nothing delivered).
    latency: Mapping[int, float | None]


@dataclass(frozen=True)
class Alert:
    kind: str  # dead_letters_rising | destination_down | checkpoint_overdue
    subject: str  # the destination; "" for the others
    count: int  # dead letters in the window; deliveries waiting; entries unsigned
    minutes: int  # the window; how long it has been down; how long unsigned


@dataclass(frozen=True)
class Overview:
    hours: int
    step_seconds: int
    starts: tuple[datetime, ...]  # the start of each bucket
    districts: frozenset[str] | None  # the scope (None: every district)
    by_district: tuple[Series, ...]
    by_type: tuple[Series, ...]
    by_destination: tuple[Series, ...]
    retries: Series
    dead: Series
    destinations: tuple[DestinationFigures, ...]
    alerts: tuple[Alert, ...]

    @property
    def messages(self) -> int:
        return sum(s.total for s in self.by_district)


def overview_principal(person: Person) -> Principal:
    """The principal a console person looks at the overview as: hub-wide for a hub
    administrator, else the districts of every role it holds (a person without a role is
    refused, 403 ``role_missing``)."""
    if person.holds(Role.HUB_ADMIN):
        return Principal.hub_admin(person.actor)
    held = [Role(r) for r in person.roles if person.roles[r]]
    if not held:
        raise Forbidden(f"{person.name!r} holds no role", reason="role_missing")
    kind = Kind.OPERATOR if Role.OPERATOR in held else Kind(held[0].value)
    return Principal(person.actor, kind, frozenset(person.districts()))


def overview(hub: Hub, principal: Principal, hours: int = DEFAULT_HOURS) -> Overview:
    """The figures of the last ``hours`` (one of ``WINDOWS``) and the alerts of now."""
    principal.require(*_READERS)
    if hours not in WINDOWS:
        offered = ", ".join(str(h) for h in WINDOWS)
        raise InputError(f"hours must be one of {offered}", reason="window_invalid")
    step = WINDOWS[hours]
    now = hub.clock()
    end = _bucket_end(now, step)
    since = end - timedelta(hours=hours)
    n = hours * 3600 // step
    scope = principal.districts
    with hub.reader.connect() as conn:
        counted = rows.message_counts(conn, since, step, scope)
        delivered = rows.delivery_counts(conn, since, step, scope)
    by_district = _series(n, ((c.bucket, c.district, c.count) for c in counted))
    by_type = _series(n, ((c.bucket, c.message_type, c.count) for c in counted))
    by_destination = _series(n, ((c.bucket, c.destination, c.count) for c in delivered))
    retries = _total("retries", n, ((c.bucket, c.retries) for c in delivered))
    dead = _total(
        "dead",
        n,
        ((c.bucket, c.count) for c in delivered if c.state == DeliveryState.DEAD.value),
    )
    return Overview(
        hours=hours,
        step_seconds=step,
        starts=tuple(since + timedelta(seconds=step * i) for i in range(n)),
        districts=scope,
        by_district=by_district,
        by_type=by_type,
        by_destination=by_destination,
        retries=retries,
        dead=dead,
        destinations=_destinations(delivered),
        alerts=tuple(alerts(hub, principal)),
    )


def alerts(hub: Hub, principal: Principal) -> list[Alert]:
    """What needs attention now, for the principal's districts (also for the API and
    metrics): dead letters rising, destinations that stay down, a checkpoint overdue."""
    principal.require(*_READERS)
    s = hub.settings
    now = hub.clock()
    found: list[Alert] = []
    window = timedelta(minutes=s.alert_dead_letters_minutes)
    with hub.reader.connect() as conn:
        recent = rows.dead_between(conn, now - window, now, principal.districts)
        before = rows.dead_between(conn, now - 2 * window, now - window, principal.districts)
        if recent >= s.alert_dead_letters_min and recent > before:
            found.append(Alert("dead_letters_rising", "", recent, s.alert_dead_letters_minutes))
        waiting = rows.retrying(conn, principal.districts)
        last = rows.last_delivered(conn, [w.destination for w in waiting])
        down_for = timedelta(minutes=s.alert_destination_down_minutes)
        for w in sorted(waiting, key=lambda w: w.destination):
            since_good = now - last[w.destination] if w.destination in last else None
            if now - w.oldest >= down_for and (since_good is None or since_good >= down_for):
                waited = now - w.oldest if since_good is None else min(now - w.oldest, since_good)
                found.append(Alert("destination_down", w.destination, w.deliveries, _min(waited)))
        state = trail_state(conn)
        oldest = oldest_unsigned_at(conn, state)
    overdue = timedelta(seconds=s.alert_checkpoint_overdue_seconds)
    if oldest is not None and now - oldest >= overdue:
        found.append(Alert("checkpoint_overdue", "", state.unsigned, _min(now - oldest)))
    return found


def current_alerts(hub: Hub) -> list[Alert] | None:
    """Every district's alerts for ``/metrics`` (the hub's own scrape, no person asking); None
    when the database does not answer."""
    try:
        return alerts(hub, Principal.operator("metrics"))
    except SQLAlchemyError:
        return None


def percentile(histogram: Iterable[tuple[int, int]], p: float) -> float | None:
    """The upper bound of the latency class the ``p``-th percentile falls in, from
    ``(class, count)`` pairs; inf beyond the last bound, None without deliveries."""
    counts: dict[int, int] = defaultdict(int)
    for cls, count in histogram:
        counts[cls] += count
    total = sum(counts.values())
    if total == 0:
        return None
    wanted, seen = math.ceil(total * p / 100), 0
    for cls in sorted(counts):
        seen += counts[cls]
        if seen >= wanted:
            break
    return rows.LATENCY_BOUNDS[cls] if cls < len(rows.LATENCY_BOUNDS) else math.inf


def _destinations(counts: list[rows.DeliveryCount]) -> tuple[DestinationFigures, ...]:
    by: dict[str, list[rows.DeliveryCount]] = defaultdict(list)
    for c in counts:
        by[c.destination].append(c)
    figures = []
    for name, cs in sorted(by.items()):

        def in_state(*states: DeliveryState, cs: list[rows.DeliveryCount] = cs) -> int:
            wanted = {s.value for s in states}
            return sum(c.count for c in cs if c.state in wanted)

        delivered = [(c.latency_class, c.count) for c in cs if c.latency_class >= 0]
        total = sum(c.count for c in cs)
        done = in_state(DeliveryState.DELIVERED)
        dead = in_state(DeliveryState.DEAD)
        refused = in_state(DeliveryState.REFUSED, DeliveryState.REJECTED)
        figures.append(
            DestinationFigures(
                destination=name,
                deliveries=total,
                delivered=done,
                waiting=total - done - dead - refused,
                dead=dead,
                refused=refused,
                retries=sum(c.retries for c in cs),
                latency={p: percentile(delivered, p) for p in PERCENTILES},
            )
        )
    return tuple(figures)


def _series(n: int, points: Iterable[tuple[int, str, int]]) -> tuple[Series, ...]:
    """Per name, a count per bucket; biggest first."""
    values: dict[str, list[int]] = {}
    for bucket, name, count in points:
        if 0 <= bucket < n:
            values.setdefault(name, [0] * n)[bucket] += count
    made = [Series(name, tuple(v)) for name, v in values.items()]
    return tuple(sorted(made, key=lambda s: (-s.total, s.name)))


def _total(name: str, n: int, points: Iterable[tuple[int, int]]) -> Series:
    values = [0] * n
    for bucket, count in points:
        if 0 <= bucket < n:
            values[bucket] += count
    return Series(name, tuple(values))


def _bucket_end(at: datetime, step: int) -> datetime:
    """The end of the ``step``-second bucket (counted from the epoch) that ``at`` falls in."""
    seconds = (math.floor(at.timestamp() / step) + 1) * step
    return datetime.fromtimestamp(seconds, at.tzinfo)


def _min(span: timedelta) -> int:
    return int(span.total_seconds() // 60)

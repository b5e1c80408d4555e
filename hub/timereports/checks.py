"""The checks a batch of reported visits must pass before it is stored: pure functions.

Each finding carries a reason code the provider's system can act on and names the visit (its
place in the JSON batch or its CSV line). The batch rule (``hub.services.timereports``): one
refusing finding refuses the whole batch, nothing of it is stored, and every finding is
answered at once, so the provider corrects the batch in one round.

=========================== ==================================================================
reason                      refused when
=========================== ==================================================================
``end_not_after_start``     the actual (or planned) end is not after its start
``visit_in_future``         the visit ends after the hub's clock (plus a small skew)
``duplicate_visit``         the same visit id twice in one batch
``no_active_order``         the case system knows no order with this id for this client
``order_other_provider``    the client's order is with another provider
``order_not_active``        the visit's day is outside the order's validity, or the order is
                            interrupted or closed
``intervention_not_ordered`` an intervention the order does not cover
``staff_overlap``           one staff member in two visits at once (in the batch, or against a
                            visit already stored), first or second staff alike
``double_staffing_not_ordered`` a second staff member where the order has no double staffing
``double_staffing_same_staff`` the second staff member is the first
``period_locked``           the visit's month is past its lock date (spärrdatum) and no
                            officer has reopened it
=========================== ==================================================================

Before these, converting a visit can find: ``<field>_invalid`` (a CSV row's field out of shape,
e.g. ``staff_id_invalid`` for an identity number given as a staff id; the JSON API answers a
body out of shape with ``request_invalid`` naming the field's path), ``invalid_identity_number``
and ``planned_incomplete``; after them, the ingest pipeline's own reasons for a visit's
document (``schema_invalid`` with the element's path, ``no_route``). An XML sender's visit
(``hub.timereports.admission``) meets these same checks and can also find
``visit_date_mismatch`` (its stated ``VisitDate`` is not the local day of its start) and
``planned_incomplete``.

A warning is recorded with the batch and does not refuse it: ``manual_share_high``, the share
of visits confirmed by hand above the configured share (the visits are real time worked; a
high share is a matter for follow-up with the provider, not a reason to withhold pay).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.timereports.model import Visit

CLOCK_SKEW = timedelta(minutes=5)
BLOCKING_STATES = frozenset({"interrupted", "closed"})
DOUBLE_STAFFING = "double_staffing"  # the order's intervention code that allows two staff


@dataclass(frozen=True)
class Finding:
    """What a check found about one visit (or the batch: ``index`` None)."""

    reason: str
    detail: str
    index: int | None = None
    line: int | None = None
    refuses: bool = True

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"reason": self.reason, "detail": self.detail}
        if self.index is not None:
            out["index"] = self.index
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass(frozen=True)
class Order:
    """One order (a decision of the case system) as the checks need it."""

    order_id: str
    provider: str | None
    interventions: frozenset[str]
    valid_from: date | None
    valid_to: date | None
    state: str | None

    @property
    def double_staffing(self) -> bool:
        return DOUBLE_STAFFING in self.interventions


@dataclass(frozen=True)
class Busy:
    """A stretch of time a staff member is already booked by a stored visit."""

    staff: str  # the staff id as the checks compare it (the service passes HMACs for both)
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Rules:
    zone: ZoneInfo
    now: datetime
    lock_day: int  # the day of the following month a month locks on (at 00:00 local time)
    reopened: frozenset[str]  # "YYYY-MM" periods an officer reopened
    manual_share_warning: float  # 0..1


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def lock_moment(period: str, lock_day: int, zone: ZoneInfo) -> datetime:
    """When ``period`` ("YYYY-MM") locks: 00:00 local time on ``lock_day`` of the next month."""
    year, month = (int(part) for part in period.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, lock_day, tzinfo=zone)


def _finding(visit: Visit, reason: str, detail: str) -> Finding:
    # an XML sender's visit is the only one of its message: no index to name
    index = visit.index if visit.message_id is None else None
    return Finding(reason, f"{visit.where}: {detail}", index, visit.line)


def check_times(visits: Sequence[Visit], rules: Rules) -> list[Finding]:
    found: list[Finding] = []
    seen: dict[str, Visit] = {}
    for v in visits:
        if v.actual_end <= v.actual_start:
            found.append(_finding(v, "end_not_after_start", "the actual end is not after start"))
        if v.planned_start and v.planned_end and v.planned_end <= v.planned_start:
            found.append(_finding(v, "end_not_after_start", "the planned end is not after start"))
        if v.actual_end > rules.now + CLOCK_SKEW:
            found.append(_finding(v, "visit_in_future", "the visit ends in the future"))
        first = seen.setdefault(v.visit_id, v)
        if first is not v:
            found.append(
                _finding(v, "duplicate_visit", f"visit id {v.visit_id!r} also at {first.where}")
            )
        period = period_of(v.visit_date(rules.zone))
        locked_at = lock_moment(period, rules.lock_day, rules.zone)
        if rules.now >= locked_at and period not in rules.reopened:
            found.append(
                _finding(
                    v,
                    "period_locked",
                    f"period {period} locked on {locked_at.date().isoformat()}; an officer "
                    "must reopen it",
                )
            )
    return found


def check_orders(
    visits: Sequence[Visit],
    provider: str,
    orders: Mapping[str, Mapping[str, Order]],
    zone: ZoneInfo,
) -> list[Finding]:
    """``orders``: per client (canonical identity number), that client's orders by id."""
    found: list[Finding] = []
    for v in visits:
        order = orders.get(v.client.canonical, {}).get(v.order_id)
        if order is None:
            found.append(_finding(v, "no_active_order", f"no order {v.order_id!r} for this client"))
            continue
        if order.provider != provider:
            found.append(
                _finding(
                    v, "order_other_provider", f"order {v.order_id!r} is with another provider"
                )
            )
            continue
        day = v.visit_date(zone)
        if (
            order.state in BLOCKING_STATES
            or (order.valid_from is not None and day < order.valid_from)
            or (order.valid_to is not None and day > order.valid_to)
        ):
            found.append(
                _finding(v, "order_not_active", f"order {v.order_id!r} is not active on {day}")
            )
        missing = sorted({i.code for i in v.interventions} - order.interventions)
        if missing:
            found.append(
                _finding(
                    v,
                    "intervention_not_ordered",
                    f"order {v.order_id!r} does not cover {', '.join(missing)}",
                )
            )
        if v.second_staff_id is not None and not order.double_staffing:
            found.append(
                _finding(
                    v,
                    "double_staffing_not_ordered",
                    f"order {v.order_id!r} has no double staffing",
                )
            )
    return found


def check_staff(
    visits: Sequence[Visit], stored: Iterable[Busy], staff_key: dict[str, str]
) -> list[Finding]:
    """Overlaps of one staff member: within the batch and against stored visits.

    ``staff_key`` maps a staff id to the value ``Busy.staff`` holds for it (the service
    passes the business key's HMAC, so stored visits are compared without decrypting them)."""
    found: list[Finding] = []
    booked: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for b in stored:
        booked.setdefault(b.staff, []).append((b.start, b.end, "a visit already reported"))
    for v in visits:
        if v.second_staff_id is not None and v.second_staff_id == v.staff_id:
            found.append(_finding(v, "double_staffing_same_staff", "the second staff is the first"))
        for staff in dict.fromkeys(s for s in (v.staff_id, v.second_staff_id) if s):
            key = staff_key.get(staff, staff)
            clash = next(
                (
                    where
                    for start, end, where in booked.get(key, ())
                    if start < v.actual_end and v.actual_start < end
                ),
                None,
            )
            if clash is not None:
                found.append(
                    _finding(v, "staff_overlap", f"staff {staff!r} is also in {clash} then")
                )
            booked.setdefault(key, []).append((v.actual_start, v.actual_end, v.where))
    return found


def manual_share_warning(visits: Sequence[Visit], threshold: float) -> Finding | None:
    manual = sum(1 for v in visits if v.confirmation == "manual")
    return manual_share_of(manual, len(visits), threshold)


def manual_share_of(manual: int, total: int, threshold: float) -> Finding | None:
    """The warning for a batch of ``total`` visits, ``manual`` of them confirmed by hand (the
    batch's row counts them as they are stored, whichever door they came through)."""
    if not total:
        return None
    share = manual / total
    if share <= threshold:
        return None
    return Finding(
        "manual_share_high",
        f"{manual} of {total} visits ({share:.0%}) confirmed by hand; more than {threshold:.0%}",
        refuses=False,
    )

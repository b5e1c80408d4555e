"""Follow-up of reported time per provider and month (pure): planned against reported
minutes, the share of visits confirmed by hand, and late reports.

Read from each visit's decrypted ``timereport.visit`` v2 body (planned and actual times and the
confirmation method are not business keys) and from when the hub received it. A visit is
**late** when the hub received it more than ``late_days`` days after its local day. Planned
minutes count only visits that name a planned time; ``reported`` counts every visit, and
``reported_of_planned`` compares the two over the visits that have both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from lxml import etree


@dataclass(frozen=True)
class VisitFacts:
    district: str
    provider: str
    visit_date: date
    received_at: datetime
    planned_minutes: int | None
    actual_minutes: int
    manual: bool


@dataclass(frozen=True)
class FollowUpRow:
    district: str
    provider: str
    visits: int
    planned_minutes: int  # over the visits with a planned time
    reported_minutes: int  # over every visit
    reported_of_planned_percent: Decimal | None  # reported / planned, visits with both
    manual_percent: Decimal
    late: int
    late_percent: Decimal


def visit_facts(
    body: bytes, *, district: str, provider: str, visit_date: str, received_at: datetime
) -> VisitFacts:
    """What the follow-up needs of one v2 visit body."""
    root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    ns = etree.QName(root).namespace

    def time(name: str) -> datetime | None:
        element = root.find(f"{{{ns}}}{name}")
        return (
            datetime.fromisoformat(element.text) if element is not None and element.text else None
        )

    planned_start, planned_end = time("PlannedStart"), time("PlannedEnd")
    actual_start, actual_end = time("ActualStart"), time("ActualEnd")
    if actual_start is None or actual_end is None:
        raise ValueError("a visit without actual times")
    planned = (
        int((planned_end - planned_start).total_seconds() // 60)
        if planned_start is not None and planned_end is not None
        else None
    )
    method = root.findtext(f"{{{ns}}}ConfirmationMethod")
    return VisitFacts(
        district,
        provider,
        date.fromisoformat(visit_date),
        received_at,
        planned,
        int((actual_end - actual_start).total_seconds() // 60),
        method == "manual",
    )


def follow_up(facts: Iterable[VisitFacts], *, late_days: int, zone: ZoneInfo) -> list[FollowUpRow]:
    groups: dict[tuple[str, str], list[VisitFacts]] = defaultdict(list)
    for fact in facts:
        groups[(fact.district, fact.provider)].append(fact)
    rows = []
    for (district, provider), visits in sorted(groups.items()):
        both = [v for v in visits if v.planned_minutes is not None]
        planned_both = sum(v.planned_minutes or 0 for v in both)
        actual_both = sum(v.actual_minutes for v in both)
        late = sum(
            1
            for v in visits
            if (v.received_at.astimezone(zone).date() - v.visit_date).days > late_days
        )
        manual = sum(1 for v in visits if v.manual)
        rows.append(
            FollowUpRow(
                district,
                provider,
                len(visits),
                planned_both,
                sum(v.actual_minutes for v in visits),
                _percent(actual_both, planned_both) if planned_both else None,
                _percent(manual, len(visits)),
                late,
                _percent(late, len(visits)),
            )
        )
    return rows


def _percent(part: int, whole: int) -> Decimal:
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

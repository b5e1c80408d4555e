"""Personnel continuity as Socialstyrelsen measures it for home care: the number of different
staff a client met during a 14-day period (pure; the rows come from ``hub.storage.homecare``).

Per client the count is of distinct (provider, staff id) pairs: staff ids are each provider's
own, so the same id at two providers is two people. A client's figure for a provider counts
that provider's staff only; for a district, every provider's staff the client met there.
Aggregates (per provider, per district) give the number of clients and the mean, median and
largest number of staff; a group of fewer than ``min_clients`` clients shows its count only
(``suppressed``), so that no figure singles out a person.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

PERIOD_DAYS = 14
PER = ("client", "provider", "district")


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2026-11-01..2026-11-14`` (inclusive), or a first day alone for 14 days."""
        first_text, sep, last_text = text.partition("..")
        try:
            first = date.fromisoformat(first_text.strip())
            last = (
                date.fromisoformat(last_text.strip())
                if sep
                else first + timedelta(days=PERIOD_DAYS - 1)
            )
        except ValueError:
            raise ValueError("a period is FIRST..LAST, e.g. 2026-11-01..2026-11-14") from None
        if last < first:
            raise ValueError("the period ends before it begins")
        if (last - first).days >= 92:
            raise ValueError("a period is at most 92 days (the measure's is 14)")
        return cls(first, last)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


@dataclass(frozen=True)
class StaffMet:
    """One member of staff (HMAC) a client (HMAC) met with a provider in a district."""

    district: str
    provider: str
    client_ref: str
    staff_ref: str


@dataclass(frozen=True)
class ClientFigure:
    """One client's count (``client_ref`` is the keyed HMAC, never the number)."""

    district: str
    provider: str  # "*" when counted over every provider of the district
    client_ref: str
    staff: int


@dataclass(frozen=True)
class GroupFigure:
    """An aggregate: no person in it. ``mean``/``median``/``max`` are None when suppressed."""

    district: str
    provider: str  # "*" for a district
    clients: int
    mean: Decimal | None
    median: Decimal | None
    max: int | None

    @property
    def suppressed(self) -> bool:
        return self.mean is None


def per_client(rows: Iterable[StaffMet], *, by_provider: bool) -> list[ClientFigure]:
    """Each client's number of distinct staff, per provider or per district."""
    met: dict[tuple[str, str, str], set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        provider = row.provider if by_provider else "*"
        met[(row.district, provider, row.client_ref)].add((row.provider, row.staff_ref))
    return [
        ClientFigure(district, provider, client, len(staff))
        for (district, provider, client), staff in sorted(met.items())
    ]


def aggregate(figures: Sequence[ClientFigure], min_clients: int) -> list[GroupFigure]:
    """The clients' figures summed up per (district, provider)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for figure in figures:
        groups[(figure.district, figure.provider)].append(figure.staff)
    out = []
    for (district, provider), counts in sorted(groups.items()):
        if len(counts) < min_clients:
            out.append(GroupFigure(district, provider, len(counts), None, None, None))
            continue
        out.append(
            GroupFigure(
                district,
                provider,
                len(counts),
                _one_decimal(Decimal(sum(counts)) / len(counts)),
                _one_decimal(Decimal(str(statistics.median(counts)))),
                max(counts),
            )
        )
    return out


def _one_decimal(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

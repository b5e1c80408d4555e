"""The invoice basis of a month per ordering unit (beställarenhet), pure.

A *call* here is a case the contact centre referred to a district through the hub (a stored
``case.referral``), charged to the ordering unit it names (``OrderingUnit``; none named: the
district's own) at the price per call in force on the day the hub received it. Calls the
centre closed at first contact never pass through the hub and are not counted: the basis is
what the hub can prove, message by message. Each district with a fixed yearly fee in force on
the month's first day also gets a line of a twelfth of it (rounded to öre).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hub.statistics.months import Month
from hub.statistics.prices import Price, Prices

CALLS = "calls"
FIXED_FEE = "fixed_fee"
_ORE = Decimal("0.01")


@dataclass(frozen=True)
class Period:
    """Days ``[first, until)`` of a month that share one price per call (None: no price)."""

    first: date
    until: date
    price: Price | None


@dataclass(frozen=True)
class InvoiceLine:
    month: str
    district: str
    ordering_unit: str  # empty on a fixed-fee line: the district's committee pays it
    item: str  # calls | fixed_fee
    quantity: int
    unit_price: Decimal | None  # None: no price configured for these days (amount 0)
    amount: Decimal
    price_from: date | None  # the day the price used applies from


# The columns of the invoice basis as CSV, in the order of ``InvoiceLine``'s fields.
INVOICE_COLUMNS: tuple[str, ...] = (
    "month", "district", "ordering_unit", "item", "quantity", "unit_price", "amount", "price_from",
)  # fmt: skip


def invoice_rows(lines: Iterable[InvoiceLine]) -> Iterator[tuple[object, ...]]:
    return (tuple(getattr(line, c) for c in INVOICE_COLUMNS) for line in lines)


def periods(prices: Prices, month: Month) -> list[Period]:
    """The month cut where the price per call changes."""
    cuts = sorted({month.first} | {p.since for p in prices.per_call if month.first < p.since})
    cuts = [c for c in cuts if c < month.next_first]
    bounds = [*cuts, month.next_first]
    return [Period(a, b, prices.call_price_on(a)) for a, b in itertools.pairwise(bounds)]


def invoice_basis(
    month: Month,
    prices: Prices,
    calls: Iterable[tuple[Period, Mapping[tuple[str, str], int]]],
    districts: Iterable[str],
) -> list[InvoiceLine]:
    """Lines per (district, ordering unit, price) from the calls counted per period, then a
    fixed-fee line per district of ``districts`` with a yearly fee in force."""
    totals: dict[tuple[str, str, Price | None], int] = {}
    for period, counted in calls:
        for (district, unit), n in counted.items():
            key = (district, unit, period.price)
            totals[key] = totals.get(key, 0) + n
    lines = [
        InvoiceLine(
            str(month),
            district,
            unit,
            CALLS,
            n,
            None if price is None else price.amount,
            Decimal(0) if price is None else (price.amount * n).quantize(_ORE),
            None if price is None else price.since,
        )
        for (district, unit, price), n in totals.items()
        if n
    ]
    for district in sorted(set(districts)):
        fee = prices.yearly_fee_on(district, month.first)
        if fee is not None:
            share = (fee.amount / 12).quantize(_ORE, rounding=ROUND_HALF_UP)
            lines.append(
                InvoiceLine(str(month), district, "", FIXED_FEE, 1, share, share, fee.since)
            )
    return sorted(
        lines, key=lambda x: (x.district, x.item, x.ordering_unit, x.price_from or date.min)
    )

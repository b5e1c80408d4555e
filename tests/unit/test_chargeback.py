"""Prices with validity periods and the invoice basis they give (pure)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from hub.errors import ConfigError
from hub.statistics.chargeback import invoice_basis, periods
from hub.statistics.months import Month
from hub.statistics.prices import parse_prices

PRICES = parse_prices(
    "2022-01-01=68.50; 2026-11-16=70.00", "sdn-farsta@2026-01-01=120000.00; sdn-farsta@2027-01-01=1"
)


def test_the_month_is_cut_where_the_price_changes() -> None:
    november = periods(PRICES, Month.parse("2026-11"))
    assert [(p.first, p.until, p.price and p.price.amount) for p in november] == [
        (date(2026, 11, 1), date(2026, 11, 16), Decimal("68.50")),
        (date(2026, 11, 16), date(2026, 12, 1), Decimal("70.00")),
    ]
    (before,) = periods(PRICES, Month.parse("2021-12"))
    assert before.price is None


def test_calls_at_the_price_of_their_day_and_a_twelfth_of_the_fee() -> None:
    first, second = periods(PRICES, Month.parse("2026-11"))
    lines = invoice_basis(
        Month.parse("2026-11"),
        PRICES,
        [
            (first, {("sdn-farsta", "farsta-bistand"): 3}),
            (second, {("sdn-farsta", "farsta-bistand"): 2}),
        ],
        ["sdn-farsta", "sdn-norr"],
    )
    assert [(x.item, x.quantity, x.unit_price, x.amount) for x in lines] == [
        ("calls", 3, Decimal("68.50"), Decimal("205.50")),
        ("calls", 2, Decimal("70.00"), Decimal("140.00")),
        ("fixed_fee", 1, Decimal("10000.00"), Decimal("10000.00")),
    ]


@pytest.mark.parametrize(
    ("calls", "fees", "words"),
    [
        ("68.50", "", "has no '='"),
        ("2022-13-01=68.50", "", "is not a day"),
        ("2022-01-01=68.505", "", "at most two decimals"),
        ("2022-01-01=-1", "", "at most two decimals"),
        ("2022-01-01=1; 2022-01-01=2", "", "two entries"),
        ("", "sdn-farsta=100", "DISTRICT@YYYY-MM-DD=AMOUNT"),
    ],
)
def test_bad_entries_are_named(calls: str, fees: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_prices(calls, fees)
    assert words in caught.value.detail

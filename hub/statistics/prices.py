"""The chargeback's prices as configuration with validity periods.

Äldre direkt charges each ordering unit a price per call (68.50 SEK in 2022) on top of a fixed
yearly fee per district (seed 001). Prices change, and an invoice basis of a past month must
come out the same whenever it is made, so both are settings with the day they apply from:

- ``chargeback_call_prices``: ``YYYY-MM-DD=PRICE`` entries separated by ``;`` — the price per
  call from that day on, until the next entry's day;
- ``chargeback_yearly_fees``: ``DISTRICT@YYYY-MM-DD=AMOUNT`` entries — a district's fixed fee
  per year from that day on; a month's basis carries a twelfth of the fee in force on its first
  day.

Amounts are decimal SEK with at most two decimals (öre); a bad entry is a ``ConfigError``
naming the setting and the entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from hub.errors import ConfigError


@dataclass(frozen=True, order=True)
class Price:
    since: date
    amount: Decimal


@dataclass(frozen=True)
class Prices:
    per_call: tuple[Price, ...]  # sorted by ``since``
    yearly_fees: dict[str, tuple[Price, ...]]  # district → sorted by ``since``

    def call_price_on(self, day: date) -> Price | None:
        return _in_force(self.per_call, day)

    def yearly_fee_on(self, district: str, day: date) -> Price | None:
        return _in_force(self.yearly_fees.get(district, ()), day)


def _in_force(prices: tuple[Price, ...], day: date) -> Price | None:
    applying = [p for p in prices if p.since <= day]
    return applying[-1] if applying else None


def parse_prices(call_prices: str, yearly_fees: str) -> Prices:
    per_call = sorted(
        Price(_day(key, entry, since), _amount(key, entry, amount))
        for key, entry, since, amount in _entries("chargeback_call_prices", call_prices)
    )
    _unique("chargeback_call_prices", [(None, p.since) for p in per_call])
    fees: dict[str, list[Price]] = {}
    for key, entry, head, amount in _entries("chargeback_yearly_fees", yearly_fees):
        district, at, since = head.partition("@")
        if not at or not district.strip():
            raise ConfigError(f"{key}: {entry!r} is not DISTRICT@YYYY-MM-DD=AMOUNT", key=key)
        price = Price(_day(key, entry, since), _amount(key, entry, amount))
        fees.setdefault(district.strip(), []).append(price)
    _unique("chargeback_yearly_fees", [(d, p.since) for d, prices in fees.items() for p in prices])
    return Prices(tuple(per_call), {d: tuple(sorted(p)) for d, p in fees.items()})


def _entries(key: str, setting: str) -> list[tuple[str, str, str, str]]:
    out = []
    for raw in setting.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        head, sep, value = entry.partition("=")
        if not sep:
            raise ConfigError(f"{key}: {entry!r} has no '=' and no amount", key=key)
        out.append((key, entry, head.strip(), value.strip()))
    return out


def _day(key: str, entry: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{key}: {text.strip()!r} in {entry!r} is not a day YYYY-MM-DD", key=key
        ) from None


def _amount(key: str, entry: str, text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ConfigError(
            f"{key}: {text!r} in {entry!r} is not an amount in SEK with at most two decimals",
            key=key,
        )
    return amount


def _unique(key: str, starts: list[tuple[str | None, date]]) -> None:
    seen: set[tuple[str | None, date]] = set()
    for start in starts:
        if start in seen:
            where = f"{start[0]}@" if start[0] else ""
            raise ConfigError(f"{key}: two entries for {where}{start[1]}", key=key)
        seen.add(start)

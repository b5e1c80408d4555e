"""Monthly statistics of the service and the chargeback's invoice basis, without personal data.

The seeds ask for statistics by category, district and unit to find problems early, and for the
contact centre to charge each ordering unit per call on top of a fixed yearly fee (seed 001).
Both are counted from metadata the hub keeps anyway (``hub.storage.service_stats``): the
``referrals`` rows (written at ingest with the referral's ordering unit, main category, case
type and class, its callback deadline and when it was closed), the deliveries of the month's
messages, and the lookups' ``queried`` audit entries. No payload is decrypted, no person named:

- ``monthly``: referrals per district, ordering unit, main category, case type and class;
  lookups per district and kind (``client_summary``, ``invoice_status``; those the
  confidentiality check let through counted apart); deliveries, retries and dead letters per
  destination; callback deadlines met, late, overdue and open per district and urgency;
- ``chargeback``: the invoice basis per ordering unit (``hub.statistics.chargeback``) at the
  prices in force (``hub.statistics.prices``, settings with validity periods), the same for a
  past month whenever it is asked.

A month is a calendar month in ``time_zone``. Who may ask: an operator and a district
administrator, of their districts only. Every run is audited (``exported``, reason naming the
figures and the month), one entry per district in the answer.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.guards import AuditAction
from hub.services.homecare_stats import stats_scope
from hub.services.lookups import LOOKUPS
from hub.services.principal import Principal
from hub.statistics.chargeback import InvoiceLine, invoice_basis, periods
from hub.statistics.months import Month, utc_midnight
from hub.statistics.prices import Prices, parse_prices
from hub.storage import service_stats as counts
from hub.storage.service_stats import CallbackCount, DeliveryCount, ReferralCount

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from hub.bootstrap import Hub

PROTECTED = "protected_identity"


@dataclass(frozen=True)
class LookupCount:
    district: str
    lookup: str
    lookups: int
    protected_identity: int  # of those, let through by the confidentiality check


@dataclass(frozen=True)
class MonthlyStats:
    month: str
    referrals: list[ReferralCount]
    lookups: list[LookupCount]
    deliveries: list[DeliveryCount]
    callbacks: list[CallbackCount]


def monthly(
    hub: Hub, principal: Principal, month: str, *, district: str | None = None
) -> MonthlyStats:
    """The month's figures (see the module docstring), for the principal's districts."""
    span = Month.parse(month)
    scope = stats_scope(principal, district)
    start, end = span.bounds(ZoneInfo(hub.settings.time_zone))
    with hub.engine.begin() as conn:
        stats = MonthlyStats(
            str(span),
            counts.referral_counts(conn, start, end, scope),
            _lookups(counts.lookup_reasons(conn, start, end, scope)),
            counts.delivery_counts(conn, start, end, scope),
            counts.callback_counts(conn, start, end, scope, hub.clock()),
        )
        seen = {r.district for r in stats.referrals} | {x.district for x in stats.lookups}
        _audit(hub, conn, principal, f"statistics {span}", seen, district)
    return stats


def _lookups(answered: list[tuple[str, str]]) -> list[LookupCount]:
    total: Counter[tuple[str, str]] = Counter()
    protected: Counter[tuple[str, str]] = Counter()
    for district, reason in answered:
        words = reason.split()
        is_protected = bool(words) and words[0] == PROTECTED
        kind = words[1 if is_protected else 0] if len(words) > is_protected else ""
        if kind in LOOKUPS:
            total[(district, kind)] += 1
            protected[(district, kind)] += is_protected
    return [LookupCount(d, k, n, protected[(d, k)]) for (d, k), n in sorted(total.items())]


def chargeback(
    hub: Hub, principal: Principal, month: str, *, district: str | None = None
) -> list[InvoiceLine]:
    """The invoice basis of ``month`` per ordering unit: calls at the price of their day, and a
    twelfth of each district's fixed yearly fee."""
    span = Month.parse(month)
    scope = stats_scope(principal, district)
    prices = prices_of(hub)
    zone = ZoneInfo(hub.settings.time_zone)
    with hub.engine.begin() as conn:
        counted = []
        for period in periods(prices, span):
            start, end = utc_midnight(period.first, zone), utc_midnight(period.until, zone)
            counted.append((period, counts.calls_per_unit(conn, start, end, scope)))
        charged = {d for _, c in counted for d, _ in c}
        with_fee = {d for d in prices.yearly_fees if scope is None or d in scope}
        lines = invoice_basis(span, prices, counted, charged | with_fee)
        _audit(hub, conn, principal, f"chargeback {span}", {x.district for x in lines}, district)
    return lines


def prices_of(hub: Hub) -> Prices:
    s = hub.settings
    return parse_prices(s.chargeback_call_prices, s.chargeback_yearly_fees)


def _audit(
    hub: Hub,
    conn: Connection,
    principal: Principal,
    reason: str,
    districts: set[str],
    asked: str | None,
) -> None:
    """One ``exported`` entry per district the answer covers (the asked one if none)."""
    named: list[str | None] = [*sorted(districts)] or [asked]
    hub.guards.record(
        conn, [principal.did(AuditAction.EXPORTED, district=d, reason=reason) for d in named]
    )

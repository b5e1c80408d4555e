"""A client's orders as the checks need them, from the case system's ``client_summary`` lookup
(``GetClientSummary`` through the case system's ``LookupAdapter``), cached for a while.

The cache holds, per district and client (by the client's keyed HMAC, never the number), the
orders of one answer for ``ttl`` seconds (setting ``timereport_order_cache_seconds``): a batch
of a hundred visits to thirty clients asks the case system thirty times, and the next batch of
the same morning not at all. An order cancelled in the case system is seen after at most ``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import date

from hub.timereports.checks import Order


def orders_of(summary: Mapping[str, object]) -> dict[str, Order]:
    """The ``client_summary`` lookup's decisions as orders with the client's provider."""
    if not summary.get("found"):
        return {}
    provider = summary.get("provider")
    provider_id = provider.get("id") if isinstance(provider, Mapping) else None
    out: dict[str, Order] = {}
    decisions = summary.get("decisions")
    for d in decisions if isinstance(decisions, list) else ():
        if not isinstance(d, Mapping) or not d.get("decision_id"):
            continue
        codes = d.get("interventions")
        out[str(d["decision_id"])] = Order(
            order_id=str(d["decision_id"]),
            provider=str(provider_id) if provider_id else None,
            interventions=frozenset(
                str(c["code"]) for c in codes or () if isinstance(c, Mapping) and c.get("code")
            )
            if isinstance(codes, list)
            else frozenset(),
            valid_from=_day(d.get("valid_from")),
            valid_to=_day(d.get("valid_to")),
            state=str(d["execution_state"]) if d.get("execution_state") else None,
        )
    return out


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


class OrderCache:
    """Orders per (district, client ref), each entry kept ``ttl`` seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, dict[str, Order]]] = {}

    def get(
        self, district: str, client_ref: str, fetch: Callable[[], dict[str, Order]]
    ) -> dict[str, Order]:
        key = (district, client_ref)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
        orders = fetch()  # outside the lock: a slow case system holds up no other client
        with self._lock:
            if len(self._entries) > 10_000:  # bounded: drop what has expired
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + self._ttl, orders)
        return orders

"""``stats``: the service's monthly statistics and its chargeback over a month of traffic on the
embedded SQLite database (issue 15: "the statistics of a month with 100,000 messages computed
in under a second").

Rows:

- ``stats:monthly``: ``hub.services.service_stats.monthly`` for the month — referrals per
  district, ordering unit, main category, case type and class; lookups; deliveries, retries and
  dead letters per destination; callback deadlines — and its audit entries. Baseline: reading
  the month's referral rows into Python and counting them with a ``Counter`` (what a report
  without grouping in the database costs). Target: the month in under a second.
- ``stats:chargeback``: the invoice basis per ordering unit at two prices in the month.

The month is made (untimed) of 1,000 real ``case.referral`` envelopes ingested through the
hub, whose rows (message, delivery, referral with its facts) are then copied in bulk, with new
ids and times spread over the month, to 100,000 messages: ingesting 100,000 envelopes one by
one took over 15 minutes on the shared machine, and the statistics read only these rows.
``--messages`` above 100,000 raises the count.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from bench.report import Row
from bench.workload import Options, documents, scratch_folder
from hub.bootstrap import Hub
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import DISTRICTS, demo_agreements
from hub.services.agreements import add_agreements, register_system
from hub.services.principal import Principal
from hub.services.service_stats import chargeback, monthly
from hub.storage.tables import deliveries, messages, referrals

MONTH = "2026-11"
START = datetime(2026, 11, 1, tzinfo=UTC)
MESSAGES = 100_000
SEEDED = 1_000
BATCH = 200
OPERATOR = Principal.operator("operator:bench")
SENDER = "aldre-direkt"


def run(options: Options) -> list[Row]:
    count = max(MESSAGES, options.messages)
    with scratch_folder("stats") as folder:
        sandbox = Sandbox(
            folder / "hub",
            overrides={"chargeback_call_prices": "2022-01-01=68.50; 2026-11-16=70.00"},
        )
        spec = DestinationSpec("http", {"url": "http://127.0.0.1:9/unused", "timeout": 1})
        names = {d: f"case-{d.removeprefix('sdn-')}" for d in DISTRICTS}
        sandbox.write_routes(
            dict.fromkeys(names.values(), spec),
            [("case.referral", d, [name]) for d, name in names.items()],
        )
        now = [START - timedelta(days=40)]
        hub = sandbox.open(clock=lambda: now[0])  # not started: nothing delivered, only stored
        try:
            register_system(hub, SENDER, "contact centre (bench, fictional data)", actor="bench")
            agreements = [a for a in demo_agreements(now[0]) if "case.referral" in a.message_types]
            add_agreements(hub, agreements, actor="bench")
            docs = documents(SEEDED, prefix="STATS")
            options.progress(f"stats: ingesting {SEEDED} referrals, copied to {count} (untimed)")
            now[0] = START
            for first in range(0, SEEDED, BATCH):
                results = hub.ingestor.ingest_many(SENDER, docs[first : first + BATCH])
                failed = [r for r in results if isinstance(r, Exception)]
                if failed:
                    raise RuntimeError(f"ingest refused {len(failed)}, first: {failed[0]!r}")
            _copy(hub, count)
            now[0] = START + timedelta(days=40)
            options.progress(f"stats: the statistics of {MONTH}")
            began = time.perf_counter()
            stats = monthly(hub, OPERATOR, MONTH)
            monthly_seconds = time.perf_counter() - began
            began = time.perf_counter()
            lines = chargeback(hub, OPERATOR, MONTH)
            chargeback_seconds = time.perf_counter() - began
            began = time.perf_counter()
            with hub.engine.connect() as conn:
                r = referrals.c
                rows = conn.execute(
                    select(r.district, r.ordering_unit, r.main_category, r.case_type, r.case_class)
                )
                counted = Counter(tuple(row) for row in rows)
            baseline_seconds = time.perf_counter() - began
        finally:
            hub.close()
    counted_total = sum(x.referrals for x in stats.referrals)
    if counted_total != count or sum(counted.values()) != count:
        raise RuntimeError(f"counted {counted_total} of {count} referrals")
    calls = sum(x.quantity for x in lines if x.item == "calls")
    return [
        Row(
            scenario="stats:monthly",
            count=count,
            seconds=monthly_seconds,
            baseline_seconds=baseline_seconds,
            target_rate=float(count),  # the month within one second
            notes=[
                f"{count} referrals in {MONTH}: {len(stats.referrals)} groups, "
                f"{len(stats.deliveries)} destination(s), {len(stats.callbacks)} callback rows, "
                f"audited; {monthly_seconds:.3f} s (goal: under 1 s); baseline: the month's "
                "referral rows read into a Python Counter"
            ],
        ),
        Row(
            scenario="stats:chargeback",
            count=count,
            seconds=chargeback_seconds,
            baseline_seconds=baseline_seconds,
            target_rate=float(count),
            notes=[
                f"{calls} calls on {len(lines)} invoice lines at two prices in the month; "
                f"{chargeback_seconds:.3f} s; baseline: the month's referral rows read into a "
                "Python Counter (the facts an invoice basis is counted from)"
            ],
        ),
    ]


def _copy(hub: Hub, count: int) -> None:
    """Copy the ingested rows until the month holds ``count`` messages, spread over 29 days."""
    with hub.engine.begin() as conn:
        originals = [dict(r._mapping) for r in conn.execute(select(messages))]
        deliveries_of = {r.message_id: dict(r._mapping) for r in conn.execute(select(deliveries))}
        referral_of = {r.message_id: dict(r._mapping) for r in conn.execute(select(referrals))}
    step = timedelta(days=29) / count
    for first in range(len(originals), count, 5_000):
        batch: tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]
        batch = ([], [], [])
        for n in range(first, min(first + 5_000, count)):
            source = originals[n % len(originals)]
            at = START + step * n
            message_id = str(uuid.uuid4())
            batch[0].append(source | {"id": message_id, "idempotency_key": None, "received_at": at})
            delivery = deliveries_of[source["id"]]
            copied = {"id": str(uuid.uuid4()), "message_id": message_id, "created_at": at}
            batch[1].append(delivery | copied)
            referral = referral_of[source["id"]]
            deadline = at + (referral["deadline"] - referral["received_at"])
            batch[2].append(
                referral | {"message_id": message_id, "received_at": at, "deadline": deadline}
            )
        with hub.engine.begin() as conn:
            conn.execute(insert(messages), batch[0])
            conn.execute(insert(deliveries), batch[1])
            conn.execute(insert(referrals), batch[2])

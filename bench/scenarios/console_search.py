"""``console-search``: the operators' message search at scale (issue 14), embedded SQLite.

    python -m bench --only console-search --messages 1000000

Stores ``--messages`` messages (at least 50,000: the default run's 3,000 would measure
nothing) straight into the tables, as ingest leaves them (a message, one delivery, a case
number as its keyed HMAC), spread over the demo's three districts, four message types, four
destinations and the last 90 days; one delivery in a hundred dead, one in two hundred
retrying. Ciphertexts are a few placeholder bytes: no query here reads one. Then asks, as an
operator of one district, each question the console asks, ``REPEAT`` times each:

- ``default``: the search page as it opens (the last 24 hours, newest 50);
- ``case-id``: by a case number (HMAC'd, audited: one audit entry per search);
- ``sender-id``: by the sender's message id;
- ``dead-24h``: dead deliveries of the last 24 hours, one destination;
- ``type-7d``: one type, delivered, over 7 days;
- ``page-20``: the 20th page of the default search (keyset cursor);
- ``counts``: deliveries per destination and state (open states however old, final 24 h);
- ``dead-letters``: the dead-letter list (newest 100, and how many in all);
- ``overview-24h``: the console's overview of the last 24 hours with its alerts, as the
  operator of one district;
- ``overview-hub``: the same hub-wide, as a hub administrator.

Each row is one question: queries per second, and in the notes the median and the slowest
time. Baseline: reading one message by its primary key the same number of times, what any
page costs at least. Target: 10 queries/s (100 ms a question on average), "well under a
second" at a million messages.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import insert

from bench.report import Row
from bench.workload import Options, scratch_folder
from hub.bootstrap import Hub
from hub.demo.sandbox import DestinationSpec, Sandbox
from hub.demo.scenario import DISTRICTS
from hub.services.message_search import (
    MessageFilter,
    count_states,
    dead_letters,
    search_messages,
)
from hub.services.messages import show_message
from hub.services.overview import overview
from hub.services.principal import Principal
from hub.storage.planner import refresh_statistics
from hub.storage.tables import business_keys, deliveries, district_keys, messages

MINIMUM = 50_000
REPEAT = 20
DAYS = 90
CHUNK = 20_000
TYPES = ("case.referral", "case.execution_event", "finance.payment", "timereport.visit")
DESTINATIONS = ("case-sodermalm", "case-kungsholmen", "case-farsta", "ubw")
OPERATOR = Principal.operator("user:bench", [DISTRICTS[0]])
ADMIN = Principal.hub_admin("user:bench-admin")
TARGET = 10.0


def run(options: Options) -> list[Row]:
    count = max(options.messages, MINIMUM)
    with scratch_folder("console-search") as folder:
        sandbox = Sandbox(folder / "hub")
        sandbox.write_routes(
            {name: DestinationSpec("memory", {}) for name in DESTINATIONS},
            [(t, "*", [DESTINATIONS[0]]) for t in TYPES],
        )
        hub = sandbox.open()  # not started: the rows are only read
        try:
            now = hub.clock()
            options.progress(f"console-search: storing {count:,} messages")
            began = time.perf_counter()
            sample = _fill(hub, count, now)
            options.progress(f"console-search: stored in {time.perf_counter() - began:.0f} s")
            # What serve's upkeep does at start and hourly (hub.services.upkeep): without the
            # planner's statistics, the 7-day search took 5.5 s at 300,000 messages.
            refresh_statistics(hub.engine)
            return _measure(hub, now, sample, count)
        finally:
            hub.close()


def _fill(hub: Hub, count: int, now: datetime) -> dict[str, str]:
    """Insert ``count`` messages; returns a message id, its case number and sender id that
    an operator of the first district may see."""
    rng = random.Random(14)
    span = DAYS * 24 * 3600
    with hub.engine.begin() as conn:  # hub-wide questions seek every district with a key
        conn.execute(
            insert(district_keys),
            [
                {"district": d, "version": 1, "wrapped_key": b"\x00" * 16, "state": "active",
                 "created_at": now - timedelta(days=DAYS)}
                for d in DISTRICTS
            ],
        )  # fmt: skip
    sample: dict[str, str] = {}
    for start in range(0, count, CHUNK):
        rows_m, rows_d, rows_k = [], [], []
        for i in range(start, min(start + CHUNK, count)):
            message_id = f"00000000-0000-4000-8000-{i:012d}"
            district = DISTRICTS[i % len(DISTRICTS)]
            at = now - timedelta(seconds=span * (count - i) / count)
            case = f"AD-2026-{i:07d}"
            roll = rng.random()
            state = "dead" if roll < 0.01 else "retrying" if roll < 0.015 else "delivered"
            rows_m.append(_message(message_id, district, TYPES[i % len(TYPES)], f"S-{i}", at))
            destination = DESTINATIONS[i % len(DESTINATIONS)]
            rows_d.append(_delivery(message_id, destination, district, state, at))
            rows_k.append(
                {"name": "case_id", "value": hub.guards.hmacs.business_key(case),
                 "message_id": message_id}
            )  # fmt: skip
            if district == DISTRICTS[0] and i > count // 2 and not sample:
                sample = {"id": message_id, "case": case, "sender_id": f"S-{i}"}
        with hub.engine.begin() as conn:
            conn.execute(insert(messages), rows_m)
            conn.execute(insert(deliveries), rows_d)
            conn.execute(insert(business_keys), rows_k)
    return sample


def _message(
    message_id: str, district: str, kind: str, key: str, at: datetime
) -> dict[str, object]:
    return {
        "id": message_id, "sender": "aldre-direkt", "message_type": kind, "version": "1",
        "district": district, "purpose": "referral", "idempotency_key": key,
        "content_digest": "0" * 64, "categories": "identity,case", "agreement_ref": "BENCH@1",
        "key_version": 1, "ciphertext": b"\x00" * 16, "size": 1000, "received_at": at,
    }  # fmt: skip


def _delivery(
    message_id: str, destination: str, district: str, state: str, at: datetime
) -> dict[str, object]:
    return {
        "id": message_id[:-12] + "f" + message_id[-11:], "message_id": message_id,
        "destination": destination, "district": district, "state": state, "attempts": 1,
        "claim": 1,
        "next_attempt_at": at, "created_at": at, "updated_at": at,
        "last_reason": "destination_unavailable" if state == "dead" else None,
        "delivered_at": at if state == "delivered" else None,
    }  # fmt: skip


def _measure(hub: Hub, now: datetime, sample: dict[str, str], count: int) -> list[Row]:
    day = now - timedelta(hours=24)
    default = MessageFilter(since=day)
    # The 20th page: follow the cursor 19 times first (not timed).
    cursor = None
    for _ in range(19):
        cursor = search_messages(hub, OPERATOR, MessageFilter(since=day, before=cursor)).next_cursor
    by_case = MessageFilter(key_name="case_id", key_value=sample["case"])
    questions: dict[str, Callable[[], object]] = {
        "default": lambda: search_messages(hub, OPERATOR, default),
        "case-id": lambda: search_messages(hub, OPERATOR, by_case),
        "sender-id": lambda: search_messages(
            hub,
            OPERATOR,
            MessageFilter(key_name="sender_message_id", key_value=sample["sender_id"]),
        ),
        "dead-24h": lambda: search_messages(
            hub, OPERATOR, MessageFilter(since=day, state="dead", destination=DESTINATIONS[1])
        ),
        "type-7d": lambda: search_messages(
            hub,
            OPERATOR,
            MessageFilter(since=now - timedelta(days=7), message_type=TYPES[1], state="delivered"),
        ),
        "page-20": lambda: search_messages(hub, OPERATOR, MessageFilter(since=day, before=cursor)),
        "counts": lambda: count_states(hub, OPERATOR, timedelta(hours=24)),
        "dead-letters": lambda: dead_letters(hub, OPERATOR),
        "overview-24h": lambda: overview(hub, OPERATOR, 24),
        "overview-hub": lambda: overview(hub, ADMIN, 24),
    }
    found = search_messages(hub, OPERATOR, by_case)
    if [s.message.id for s in found.messages] != [sample["id"]]:
        raise RuntimeError("console-search bench: the case number did not find its message")
    baseline = _timed(lambda: show_message(hub, OPERATOR, sample["id"]))
    rows = []
    for name, ask in questions.items():
        times = _timed(ask)
        rows.append(
            Row(
                scenario=f"console-search:{name}",
                count=REPEAT,
                seconds=sum(times),
                baseline_seconds=sum(baseline),
                unit="query",
                target_rate=TARGET,
                notes=[
                    f"{count:,} messages over {DAYS} days; median "
                    f"{statistics.median(times) * 1000:.1f} ms, slowest {max(times) * 1000:.1f} "
                    "ms; baseline: one message by its id"
                ],
            )
        )
    return rows


def _timed(ask: Callable[[], object]) -> list[float]:
    ask()  # warm: the first question pays for the page cache
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        ask()
        times.append(time.perf_counter() - began)
    return times

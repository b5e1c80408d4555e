"""``pipeline``: in-process ingest on the embedded SQLite database, guards on.

Rows:

- ``pipeline``: ``hub.ingestor.ingest_many`` in batches of 100 from one thread.
- ``pipeline-8-threads``: ``hub.ingestor.ingest`` (one message per call) from 8 threads; the
  group commit gathers concurrent calls into shared transactions.

Baseline of each: bare SQLAlchemy Core inserts of the same rows (``messages``,
``message_subjects``, ``deliveries`` and one audit-entry-shaped row per message, with the same
column values and ciphertext sizes, prepared before the clock starts) on a fresh database
made by the same engine factory (WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE``) and the
same migrations: one transaction per 100 messages, and one per message from 8 threads. Each
measurement first stores 100 other messages untimed (statement caches, schemas). The
baseline is the storage floor; what the product adds on top is parsing and schema
validation, identity checks and keyed hashes, the agreement check, AES-GCM, the idempotency
lookup and the audit hash chain.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from audit.entry import format_at
from audit.tables import audit_entries
from bench.processes import MachineCpu
from bench.report import Row
from bench.workload import (
    INGEST_BATCH,
    SENDER,
    Options,
    documents,
    in_threads,
    ingest_all,
    prepare_hub,
    scratch_folder,
)
from hub.bootstrap import Hub
from hub.storage.engine import make_engine
from hub.storage.migrate import upgrade
from hub.storage.tables import deliveries, message_subjects, messages

TARGET = 2_000.0
THREADS = 8
WARM_UP = 100  # messages stored before the clock starts (statement caches, schemas)
UNUSED_URL = "http://127.0.0.1:9/messages"  # nothing is delivered in this scenario


@dataclass
class BareMessage:
    message: dict[str, Any]
    subject: dict[str, Any]
    delivery: dict[str, Any]
    audit: dict[str, Any]  # without "seq": numbered at insert time


def bare_rows(hub: Hub, docs: Sequence[bytes]) -> list[BareMessage]:
    """The rows ingest stores for ``docs``, built without the product's checks or crypto."""
    out = []
    now = datetime.now(UTC)
    for i, doc in enumerate(docs):
        env = hub.ingestor.read(doc)
        message_id = str(uuid.uuid4())
        destination = f"case-{env.district.removeprefix('sdn-')}"
        ref = hashlib.sha256(f"subject-{i}".encode()).hexdigest()
        out.append(
            BareMessage(
                message={
                    "id": message_id,
                    "sender": SENDER,
                    "message_type": env.message_type,
                    "version": env.version,
                    "district": env.district,
                    "purpose": env.purpose,
                    "idempotency_key": env.message_id,
                    "content_digest": hashlib.sha256(doc).hexdigest(),
                    "categories": ",".join(sorted(env.message_type_info.categories)),
                    "agreement_ref": "PUB-BENCH-REFERRALS@1",
                    "key_version": 1,
                    "ciphertext": os.urandom(len(env.body_bytes) + 89),  # seal_payload() adds 89
                    "size": len(env.body_bytes),
                    "received_at": now,
                },
                subject={"message_id": message_id, "subject_ref": ref},
                delivery={
                    "id": str(uuid.uuid4()),
                    "message_id": message_id,
                    "destination": destination,
                    "district": env.district,
                    "state": "pending",
                    "attempts": 0,
                    "claim": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "updated_at": now,
                },
                audit={
                    "at": format_at(now),
                    "actor": SENDER,
                    "action": "received",
                    "purpose": env.purpose,
                    "district": env.district,
                    "agreement": "PUB-BENCH-REFERRALS@1",
                    "message_id": message_id,
                    "subject_ref": ref,
                    "source": SENDER,
                    "destination": destination,
                    "outcome": "ok",
                    "reason": None,
                    "prev_hash": hashlib.sha256(b"prev").hexdigest(),
                    "hash": hashlib.sha256(message_id.encode()).hexdigest(),
                },
            )
        )
    return out


def bare_engine(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return engine


def insert_bare(engine: Engine, batch: Sequence[BareMessage], seq: Callable[[], int]) -> None:
    """One transaction: four executemany inserts, as ingest's three plus the audit append."""
    audit_rows = []
    for m in batch:
        m.audit["seq"] = seq()
        audit_rows.append(m.audit)
    with engine.begin() as conn:
        conn.execute(insert(messages), [m.message for m in batch])
        conn.execute(insert(message_subjects), [m.subject for m in batch])
        conn.execute(insert(deliveries), [m.delivery for m in batch])
        conn.execute(insert(audit_entries), audit_rows)


@contextmanager
def bare_inserts(path: Path) -> Iterator[Callable[[Sequence[BareMessage]], None]]:
    """``insert_bare`` into a fresh bare database at ``path``, numbering the audit rows from 1;
    the engine is disposed of after."""
    engine = bare_engine(path)
    seq = itertools.count(1).__next__
    try:
        yield lambda batch: insert_bare(engine, batch, seq)
    finally:
        engine.dispose()


def run(options: Options) -> list[Row]:
    say = options.progress
    n = options.messages
    docs = documents(n)
    warm = documents(WARM_UP, seed=7, prefix="WARM")  # untimed, before each measurement
    batched = Row("pipeline", n, target_rate=TARGET)
    threaded = Row(f"pipeline-{THREADS}-threads", n, target_rate=TARGET)
    with scratch_folder("pipeline") as folder:
        prepared = prepare_hub(folder / "batched", UNUSED_URL)
        hub = prepared.hub
        try:
            rows = bare_rows(hub, docs)
            warm_rows = bare_rows(hub, warm)
            say(f"pipeline: ingest_many x{n} in batches of {INGEST_BATCH}")
            ingest_all(hub, warm)
            machine = MachineCpu()
            began = time.perf_counter()
            ingest_all(hub, docs)
            batched.seconds = time.perf_counter() - began
            batched.notes.append(machine.share())
        finally:
            hub.close()

        say(f"pipeline: baseline, bare inserts x{n} in batches of {INGEST_BATCH}")
        with bare_inserts(folder / "bare-batched.db") as insert_rows:
            insert_rows(warm_rows)
            began = time.perf_counter()
            for start in range(0, n, INGEST_BATCH):
                insert_rows(rows[start : start + INGEST_BATCH])
            batched.baseline_seconds = time.perf_counter() - began

        say(f"pipeline: ingest x{n} from {THREADS} threads")
        prepared = prepare_hub(folder / "threaded", UNUSED_URL)
        hub = prepared.hub
        try:
            in_threads(len(warm), lambda: lambda i: _ingest_one(hub, warm[i]), THREADS)
            machine = MachineCpu()
            threaded.seconds = in_threads(n, lambda: lambda i: _ingest_one(hub, docs[i]), THREADS)
            threaded.notes.append(machine.share())
        finally:
            hub.close()

        say(f"pipeline: baseline, bare inserts x{n}, one transaction each, {THREADS} threads")
        with bare_inserts(folder / "bare-threaded.db") as insert_rows:
            in_threads(len(warm_rows), lambda: lambda i: insert_rows([warm_rows[i]]), THREADS)
            threaded.baseline_seconds = in_threads(
                n, lambda: lambda i: insert_rows([rows[i]]), THREADS
            )

    batched.notes.append(
        f"baseline: bare inserts of the same rows, {INGEST_BATCH} messages per transaction"
    )
    threaded.notes.append(
        "baseline: bare inserts, one message per transaction from the same threads "
        "(what ingest would cost without group commit)"
    )
    return [batched, threaded]


def _ingest_one(hub: Hub, doc: bytes) -> None:
    hub.ingestor.ingest(SENDER, doc)

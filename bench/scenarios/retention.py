"""``retention``: the retention job over 100,000 expired messages (issue 15).

Row ``retention``: ``hub.services.retention.run_retention`` on the embedded SQLite database
holding 100,000 messages received three years ago under the demo's agreements (two years'
retention; ``--messages`` below the default makes it a smaller smoke run), one data subject
each, spread over the three districts, with one person's legal hold standing in each district
(so every candidate is checked against the holds). Per batch of ``retention_batch`` (500): find
the due, un-held ids, overwrite their payloads under ``secure_delete``, and append one audit
entry (signed head) in the same transaction.

Baseline: the same number of rows in a second database of the same engine factory and
migrations, overwritten by bare ``UPDATE … WHERE id IN (…)`` statements of the same batch size,
one transaction each, with the ids known in advance: the storage floor of writing the shredded
rows at all. The ratio shows the selection, the holds, the status counts and the audit trail.

The rows are inserted with SQLAlchemy Core before the clock starts (ingesting 100,000 messages
through the pipeline is what ``pipeline`` measures); their payloads are real per-message-key
blobs of 1 KB documents.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, literal, update

from bench.report import Row
from bench.workload import Options, scratch_folder
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import DISTRICTS, demo_agreements
from hub.keys import crypto
from hub.services.agreements import add_agreements
from hub.services.legal_holds import place_hold
from hub.services.principal import Principal
from hub.services.retention import run_retention
from hub.storage.engine import make_engine
from hub.storage.migrate import upgrade
from hub.storage.tables import message_subjects, messages
from schemas.registry import default_registry

FULL = 100_000
BATCH = 500
OPERATOR = Principal.operator("operator:bench")
HELD_PERSON = "19121212-1212"  # a fictional personnummer (Skatteverket's test number)


def run(options: Options) -> list[Row]:
    count = FULL if options.messages >= 3000 else max(600, options.messages)
    with scratch_folder("retention") as folder:
        hub = Sandbox(folder / "hub").open()  # not started: the job is called directly
        try:
            agreements = [a for a in demo_agreements(hub.clock()) if "case.referral" in
                          a.message_types]  # fmt: skip
            add_agreements(hub, agreements, actor="bench")
            refs = {a.district: a.ref for a in agreements}
            options.progress(f"retention: storing {count} messages received three years ago")
            rows = _rows(count, refs, hub.clock() - timedelta(days=3 * 365))
            _insert(hub.engine, rows)
            for district in DISTRICTS:
                place_hold(hub, OPERATOR, district, reason="bench", subject=HELD_PERSON)
            options.progress("retention: running the job")
            began = time.perf_counter()
            done = run_retention(hub, OPERATOR, batch=BATCH)
            seconds = time.perf_counter() - began
        finally:
            hub.close()
        if done.shredded != count:
            raise RuntimeError(f"retention bench: {done.shredded} shredded, expected {count}")
        options.progress("retention: the baseline (bare updates)")
        baseline = _bare(folder / "bare.db", rows)
    return [
        Row(
            scenario="retention",
            count=count,
            seconds=seconds,
            baseline_seconds=baseline,
            unit="msg",
            notes=[
                f"{len(done.batches)} audited batches of {BATCH}; a person's hold in each "
                "district; baseline: bare UPDATEs of the same rows by id, same batches"
            ],
        )
    ]


def _rows(count: int, refs: dict[str, str], received: Any) -> list[dict[str, Any]]:
    key = bytes(32)
    (referral,) = [t for t in default_registry().types() if t.name == "case.referral"]
    categories = ",".join(sorted(referral.categories))
    document = b"<CaseReferral>" + b"x" * 1000 + b"</CaseReferral>"
    out = []
    for i in range(count):
        district = DISTRICTS[i % len(DISTRICTS)]
        message_id = str(uuid.uuid4())
        aad = crypto.payload_aad(message_id, district, "case.referral", 1)
        out.append(
            {
                "id": message_id,
                "sender": "aldre-direkt",
                "message_type": "case.referral",
                "version": "1",
                "district": district,
                "purpose": "referral",
                "idempotency_key": f"BENCH-RET-{i:07d}",
                "content_digest": hashlib.sha256(message_id.encode()).hexdigest(),
                "categories": categories,
                "agreement_ref": refs[district],
                "key_version": 1,
                "ciphertext": crypto.seal_payload(key, document, aad),
                "size": len(document),
                "received_at": received,
            }
        )
    return out


def _insert(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    subjects = [
        {"message_id": r["id"], "subject_ref": hashlib.sha256(r["id"].encode()).hexdigest()}
        for r in rows
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(messages), list(rows[start : start + 10_000]))
            conn.execute(insert(message_subjects), subjects[start : start + 10_000])


def _bare(path: Any, rows: Sequence[dict[str, Any]]) -> float:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    try:
        _insert(engine, rows)
        ids = [r["id"] for r in rows]
        began = time.perf_counter()
        for start in range(0, len(ids), BATCH):
            with engine.begin() as conn:
                conn.execute(
                    update(messages)
                    .where(messages.c.id.in_(ids[start : start + BATCH]))
                    .values(ciphertext=literal(crypto.SHREDDED), shredded_at=rows[0]["received_at"])
                )
        return time.perf_counter() - began
    finally:
        engine.dispose()

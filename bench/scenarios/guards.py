"""``guards``: what the three guards (agreements, keys, audit) cost.

Rows:

- ``guards:audit-append``: ``AuditTrail.append`` in batches of 500 realistic entries, each
  batch its own transaction, on a fresh SQLite file made by the product's engine factory
  (WAL, ``synchronous=FULL``) and migrations. Baseline: bare executemany inserts of the same
  rows (already hashed) in the same transactions: the storage floor without the head lock,
  the canonical form and SHA-256.
- ``guards:audit-verify``: ``audit.verify.verify`` over the stored entries (loaded into
  memory before the clock starts) and a signed checkpoint. Baseline: a bare SHA-256 chain
  over the entries' canonical bytes, encoded before the clock starts: the hashing floor.
  ``guards:audit-verify+load`` adds reading the entries from the database
  (``load_entries``), as ``omsorgshub audit verify`` does; no target.
- ``guards:end-to-end``: the ``end-to-end-embedded`` run with guards on; baseline the same run
  with guards off (``bench.guards_off``: no-op agreement cache, key store and audit trail,
  swapped into the built hub's ``Guards``). Target: on ≥ 0.8 × off.
- ``guards:pipeline``: the same comparison for ``ingest_many`` alone; no target.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert

from audit.checkpoint import Checkpoint
from audit.entry import AuditAction, AuditEvent, canonical_bytes
from audit.signing import Ed25519Signer
from audit.tables import audit_entries
from audit.trail import AuditTrail
from audit.verify import load_entries, verify
from bench.guards_off import switch_off
from bench.processes import DoubleWatch, http_double
from bench.report import Row
from bench.scenarios.end_to_end import Delivered, measure_embedded
from bench.scenarios.pipeline import UNUSED_URL, bare_engine
from bench.workload import Options, documents, ingest_all, prepare_hub, scratch_folder
from hub.demo.scenario import DISTRICTS

APPEND_TARGET = 10_000.0
VERIFY_TARGET = 200_000.0
RATIO_TARGET = 0.8
APPEND_BATCH = 500
ENTRIES_PER_MESSAGE = 20
E2E_ROUNDS = 2  # audit rows are sized from --messages: 20 entries per message


def _events(count: int) -> list[AuditEvent]:
    key = b"bench-subject-key"
    return [
        AuditEvent(
            AuditAction.DELIVERED,
            "omsorgshub",
            purpose="referral",
            district=DISTRICTS[i % len(DISTRICTS)],
            agreement="PUB-SODERMALM-REFERRALS@1",
            message_id=str(uuid.UUID(int=i)),
            subject_ref=hmac.new(key, str(i).encode(), hashlib.sha256).hexdigest(),
            source="aldre-direkt",
            destination="case-sodermalm",
        )
        for i in range(count)
    ]


def audit_rows(folder: Path, total: int) -> list[Row]:
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    trail = AuditTrail(signer, folder / "checkpoints", checkpoint_every=10**9)
    batch = _events(APPEND_BATCH)
    batches = max(1, total // APPEND_BATCH)
    total = batches * APPEND_BATCH
    append = Row("guards:audit-append", total, unit="entries", target_rate=APPEND_TARGET)
    check = Row("guards:audit-verify", total, unit="entries", target_rate=VERIFY_TARGET)
    loaded = Row("guards:audit-verify+load", total, unit="entries")

    engine = bare_engine(folder / "audit.db")
    try:
        began = time.perf_counter()
        for _ in range(batches):
            with engine.begin() as conn:
                trail.append(conn, batch)
        append.seconds = time.perf_counter() - began
        with engine.begin() as conn:
            cp = trail.checkpoint(conn)
        assert cp is not None
        checkpoints: list[Checkpoint] = [cp]
        with engine.connect() as conn:
            entries = list(load_entries(conn))
            began = time.perf_counter()
            report = verify(load_entries(conn), checkpoints, signer.verifier())
            loaded.seconds = time.perf_counter() - began
    finally:
        engine.dispose()
    if not report.ok:
        raise RuntimeError(f"the audit trail does not verify: {report.problem}")

    began = time.perf_counter()
    report = verify(entries, checkpoints, signer.verifier())
    check.seconds = time.perf_counter() - began
    if not report.ok or report.entries_checked != total:
        raise RuntimeError(f"verify checked {report.entries_checked} of {total}: {report.problem}")

    # Baselines.
    bare = bare_engine(folder / "audit-bare.db")
    rows = [e.as_dict() for e in entries]
    try:
        began = time.perf_counter()
        for start in range(0, total, APPEND_BATCH):
            with bare.begin() as conn:
                conn.execute(insert(audit_entries), rows[start : start + APPEND_BATCH])
        append.baseline_seconds = time.perf_counter() - began
    finally:
        bare.dispose()
    encoded = [canonical_bytes(e.prev_hash, e) for e in entries]
    began = time.perf_counter()
    _sha256_chain(encoded)
    check.baseline_seconds = time.perf_counter() - began
    loaded.baseline_seconds = check.baseline_seconds

    append.notes.append(
        f"batches of {APPEND_BATCH}, one transaction each; baseline: bare inserts of the same "
        "rows in the same transactions"
    )
    check.notes.append(
        "entries in memory; baseline: a bare SHA-256 chain over the pre-encoded canonical bytes"
    )
    loaded.notes.append("reading the entries from SQLite included (as `omsorgshub audit verify`)")
    return [append, check, loaded]


def _sha256_chain(encoded: list[bytes]) -> str:
    prev = b""
    sha256 = hashlib.sha256
    for data in encoded:
        prev = sha256(prev + data).digest()
    return prev.hex()


def run(options: Options) -> list[Row]:
    say = options.progress
    n = options.messages
    docs = documents(n)
    rows: list[Row] = []
    with scratch_folder("guards") as folder:
        say(f"guards: audit append and verify, {n * ENTRIES_PER_MESSAGE} entries")
        rows += audit_rows(folder, n * ENTRIES_PER_MESSAGE)

        pipeline = Row("guards:pipeline", n)
        for guarded in (True, False):
            state = "on" if guarded else "off"
            say(f"guards: ingest_many x{n}, guards {state}")
            prepared = prepare_hub(folder / f"pipeline-{state}", UNUSED_URL)
            try:
                if not guarded:
                    switch_off(prepared.hub, DISTRICTS)
                began = time.perf_counter()
                ingest_all(prepared.hub, docs)
                elapsed = time.perf_counter() - began
            finally:
                prepared.hub.close()
            if guarded:
                pipeline.seconds = elapsed
            else:
                pipeline.baseline_seconds = elapsed
        pipeline.notes.append("baseline: the same with guards off (bench/guards_off.py)")

        e2e = Row("guards:end-to-end", n, target_ratio=RATIO_TARGET)
        runs: dict[bool, list[Delivered]] = {True: [], False: []}
        with http_double(folder) as (double, url):
            watch = DoubleWatch(url)
            try:
                # Alternating on, off, on, off: drift on a shared machine hits both alike.
                for round_ in range(E2E_ROUNDS):
                    for guarded in (True, False):
                        state = "on" if guarded else "off"
                        say(f"guards: end to end x{n}, guards {state} ({round_ + 1})")
                        home = folder / f"e2e-{state}-{round_}"
                        runs[guarded].append(
                            measure_embedded(home, docs, url, watch, double, guards_on=guarded)
                        )
            finally:
                watch.close()
        e2e.count = n * E2E_ROUNDS
        e2e.seconds = sum(r.seconds for r in runs[True])
        e2e.baseline_seconds = sum(r.seconds for r in runs[False])
        e2e.notes += [
            f"{E2E_ROUNDS} rounds of {n} messages, guards on and off alternating; baseline: "
            "the same runs with guards off (no-op agreement cache, key store and audit trail "
            "swapped into the built hub; bench/guards_off.py)",
            *(f"guards on, round {i + 1}: {r.summary()}" for i, r in enumerate(runs[True])),
            *(f"guards off, round {i + 1}: {r.summary()}" for i, r in enumerate(runs[False])),
        ]
        rows += [pipeline, e2e]
    return rows

"""``audit``: appending to the audit trail and verifying it, as the hub and the CLI do.

Everything runs on a hub made as ``omsorgshub init`` makes one (``Sandbox``: keys, the SQLite
database in WAL mode with ``synchronous=FULL``, migrations), so the trail is the hub's own.

Rows:

- ``audit:append@B`` for B in 1, 5, 20 and 500 entries per transaction: the hub's
  ``AuditTrail.append`` (lock and check the signed head, canonical form and SHA-256 of each
  entry, the insert, the signed head's update), ``APPEND_TRANSACTIONS`` transactions of B
  realistic entries each (at most ``--messages`` × 20 entries). Group commit writes one
  message's entries per data subject in the same transaction as the message, and at moderate
  load it commits 1–20 messages at a time, so 1, 5 and 20 are the sizes the hub really
  produces; 500 is a bulk batch. Timed: the append inside the caller's open transaction, not
  ``BEGIN`` and the commit (``fsync``), which belong to the caller's transaction whatever it
  holds; the whole transaction's rate is in the notes. Baseline: a bare executemany insert of
  the same rows (already hashed) in as many transactions, timed the same way: the storage floor
  without the head, the hash chain and the signature. Target ≥ 10,000 entries/s at every size.
- ``audit:verify``: ``audit.verify.verify`` over every entry of the trail (loaded into memory
  before the clock starts) against its checkpoints and signed head. Baseline: a bare SHA-256
  chain over the entries' canonical bytes, encoded before the clock starts (the hashing floor).
- ``audit:verify+load``: exactly what ``omsorgshub audit verify`` does before it prints
  (``hub.services.audit_integrity.verify_trail`` with the hub's settings): open the database,
  read the public key, the checkpoints file and the signed head, read every entry and verify
  the chain, the head and each checkpoint (one every ``CHECKPOINT_EVERY`` entries, as the
  relay makes them). Same baseline; the notes give the floor of reading the same columns with a
  bare ``sqlite3`` cursor. Target ≥ 200,000 entries/s.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, insert

from audit.entry import AuditAction, AuditEvent, canonical_bytes
from audit.head import read_head
from audit.signing import load_verifier
from audit.tables import audit_entries
from audit.trail import AuditTrail, load_checkpoints
from audit.verify import load_entries, verify
from bench.report import Row
from bench.scenarios.pipeline import bare_engine
from bench.workload import Options, scratch_folder
from hub.demo.sandbox import Sandbox
from hub.demo.scenario import DISTRICTS
from hub.services.audit_integrity import verify_trail
from hub.settings import Settings

APPEND_TARGET = 10_000.0
VERIFY_TARGET = 200_000.0
APPEND_SIZES = (1, 5, 20, 500)
APPEND_TRANSACTIONS = 1000  # per size, fewer when --messages × 20 entries run out first
ENTRIES_PER_MESSAGE = 20
Stored = dict[str, str | int | None]  # an entry's row as inserted
CHECKPOINT_EVERY = 1000  # the relay's default (audit_checkpoint_every)


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


def run(options: Options) -> list[Row]:
    say = options.progress
    budget = options.messages * ENTRIES_PER_MESSAGE
    with scratch_folder("audit") as folder:
        hub = Sandbox(folder / "hub").open()
        bare = bare_engine(folder / "bare.db")
        try:
            rows = _append_rows(hub.guards.audit, hub.engine, bare, budget, say)
            rows += _verify_rows(hub.settings, hub.engine, say)
        finally:
            bare.dispose()
            hub.close()
    return rows


def _append_rows(
    trail: AuditTrail, engine: Engine, bare: Engine, budget: int, say: Callable[[str], None]
) -> list[Row]:
    rows: list[Row] = []
    pending = 0  # entries since the last checkpoint
    for size in APPEND_SIZES:
        transactions = max(1, min(APPEND_TRANSACTIONS, budget // size))
        say(f"audit: append, {transactions} transactions of {size}")
        row = Row(
            f"audit:append@{size}", transactions * size, unit="entries", target_rate=APPEND_TARGET
        )
        batch = _events(size)
        stored: list[Stored] = []  # as appended, for the baseline
        whole = 0.0
        for _ in range(transactions):
            began_tx = time.perf_counter()
            with engine.begin() as conn:
                began = time.perf_counter()
                appended = trail.append(conn, batch)
                row.seconds += time.perf_counter() - began
            whole += time.perf_counter() - began_tx
            stored += [e.as_dict() for e in appended]
            pending += size
            if pending >= CHECKPOINT_EVERY:  # untimed, as the relay would between commits
                _checkpoint(trail, engine)
                pending = 0
        row.baseline_seconds, bare_whole = _bare_append(bare, stored, size)
        row.notes.append(
            f"{transactions} transactions of {size}, the append timed inside the open "
            f"transaction (BEGIN and commit excluded); whole transactions: "
            f"{row.count / whole:,.0f}/s, bare inserts: {row.count / bare_whole:,.0f}/s"
        )
        rows.append(row)
    if pending:
        _checkpoint(trail, engine)
    return rows


def _checkpoint(trail: AuditTrail, engine: Engine) -> None:
    """Copy the signed head into a checkpoint and publish it to the file, as the relay does."""
    with engine.begin() as conn:
        cp = trail.checkpoint(conn)
    if cp is not None:
        trail.publish_checkpoint(cp)


def _bare_append(bare: Engine, rows: list[Stored], size: int) -> tuple[float, float]:
    """Insert ``rows`` ``size`` at a time, one transaction each: (insert seconds, whole)."""
    inserts = whole = 0.0
    for start in range(0, len(rows), size):
        began_tx = time.perf_counter()
        with bare.begin() as conn:
            began = time.perf_counter()
            conn.execute(insert(audit_entries), rows[start : start + size])
            inserts += time.perf_counter() - began
        whole += time.perf_counter() - began_tx
    return inserts, whole


def _verify_rows(settings: Settings, engine: Engine, say: Callable[[str], None]) -> list[Row]:
    with engine.connect() as conn:
        entries = list(load_entries(conn))
        head = read_head(conn, lock=False)
        checkpoints = load_checkpoints(conn)
    assert head is not None
    assert head.signed is not None
    checkpoints.append(head.signed)
    total = len(entries)
    check = Row("audit:verify", total, unit="entries", target_rate=VERIFY_TARGET)
    loaded = Row("audit:verify+load", total, unit="entries", target_rate=VERIFY_TARGET)

    say(f"audit: verify {total} entries in memory")
    verifier = load_verifier(settings.audit_public_key_file)
    began = time.perf_counter()
    report = verify(entries, checkpoints, verifier)
    check.seconds = time.perf_counter() - began
    if not report.ok or report.entries_checked != total:
        raise RuntimeError(f"verify checked {report.entries_checked} of {total}: {report.problem}")

    say(f"audit: verify {total} entries as `omsorgshub audit verify` does")
    began = time.perf_counter()
    checked = verify_trail(settings)
    loaded.seconds = time.perf_counter() - began
    if not checked.report.ok or checked.report.entries_checked != total:
        raise RuntimeError(
            f"the CLI's verification checked {checked.report.entries_checked} of {total}: "
            f"{checked.report.problem}"
        )

    encoded = [canonical_bytes(e.prev_hash, e) for e in entries]
    began = time.perf_counter()
    _sha256_chain(encoded)
    check.baseline_seconds = loaded.baseline_seconds = time.perf_counter() - began
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    floor = total / _read_floor(database)
    check.notes.append(
        f"entries in memory, {len(checkpoints)} signatures; baseline: a bare SHA-256 chain "
        "over the pre-encoded canonical bytes"
    )
    loaded.notes.append(
        "hub.services.audit_integrity.verify_trail with the hub's settings, as `omsorgshub "
        f"audit verify`: {checked.report.checkpoints_checked} signatures; same baseline; a bare "
        f"sqlite3 cursor reads the same columns at {floor:,.0f} entries/s"
    )
    return [check, loaded]


def _sha256_chain(encoded: list[bytes]) -> str:
    prev = b""
    sha256 = hashlib.sha256
    for data in encoded:
        prev = sha256(prev + data).digest()
    return prev.hex()


def _read_floor(path: Path) -> float:
    """Seconds to read every entry's columns with a bare ``sqlite3`` cursor, nothing built."""
    began = time.perf_counter()
    db = sqlite3.connect(path)
    try:
        cur = db.execute(
            "SELECT seq, at, actor, action, purpose, district, agreement, message_id, "
            "subject_ref, source, destination, outcome, reason, prev_hash, hash "
            "FROM audit_entries ORDER BY seq"
        )
        while cur.fetchmany(5000):
            pass
    finally:
        db.close()
    return time.perf_counter() - began

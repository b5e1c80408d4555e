"""The audit trail under concurrent writers on PostgreSQL: many transactions appending at once
must still produce one gap-free, correctly chained sequence, with checkpoints taken meanwhile.
Needs OMSORGSHUB_TEST_POSTGRES_URL; skipped with the reason otherwise."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, func, select

from audit.checkpoint import Checkpoint, read_checkpoints
from audit.entry import AuditAction, AuditEvent
from audit.signing import Ed25519Signer
from audit.tables import audit_entries, audit_head, metadata
from audit.trail import AuditTrail, load_checkpoints
from audit.verify import load_entries, verify
from tests.integration.threads import run_threads

pytestmark = pytest.mark.postgres

THREADS = 6
TRANSACTIONS = 25
BATCH = 8


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """On a fresh schema (shared fixture in tests/conftest.py; skips without PostgreSQL)."""
    engine = create_engine(postgres_url, pool_size=THREADS + 2)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def subject_ref(n: int) -> str:
    return hmac.new(b"test-subject-key", f"subject-{n}".encode(), hashlib.sha256).hexdigest()


def test_concurrent_appends_give_one_gap_free_chain(engine: Engine, tmp_path: Path) -> None:
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    trail = AuditTrail(signer, tmp_path / "cp", checkpoint_every=50)
    start = threading.Barrier(THREADS + 1)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        start.wait()
        for t in range(TRANSACTIONS):
            events = [
                AuditEvent(
                    AuditAction.DELIVERED,
                    f"worker-{worker}",
                    message_id=f"{worker}-{t}",
                    subject_ref=subject_ref(worker * 1000 + t),
                    destination="aldre-direkt",
                )
                for _ in range(BATCH)
            ]
            with engine.begin() as conn:
                trail.append(conn, events)

    def checkpointer() -> None:
        try:
            start.wait()
            while not done.is_set():
                with engine.begin() as conn:
                    cp = trail.checkpoint(conn) if trail.checkpoint_due(conn) else None
                if cp is not None:
                    trail.publish_checkpoint(cp)
        except BaseException as exc:
            errors.append(exc)

    signing = threading.Thread(target=checkpointer)
    signing.start()
    try:
        run_threads(THREADS, writer, timeout=120)
    finally:
        done.set()
        signing.join(timeout=30)
    assert not errors, errors

    total = THREADS * TRANSACTIONS * BATCH
    with engine.begin() as conn:
        final = trail.checkpoint(conn)
    if final is not None:
        trail.publish_checkpoint(final)

    with engine.connect() as conn:
        entries = list(load_entries(conn))
        head = conn.execute(select(audit_head.c.seq, audit_head.c.hash)).one()
        stored_checkpoints = load_checkpoints(conn)
        assert conn.execute(select(func.count()).select_from(audit_entries)).scalar() == total
    assert [e.seq for e in entries] == list(range(1, total + 1))
    assert (head.seq, head.hash) == (total, entries[-1].hash)
    # Each transaction's batch is contiguous: no other writer got in between.
    positions: dict[str, list[int]] = {}
    for e in entries:
        assert e.message_id is not None
        positions.setdefault(e.message_id, []).append(e.seq)
    for seqs in positions.values():
        assert seqs == list(range(seqs[0], seqs[0] + BATCH))

    published: list[Checkpoint] = list(read_checkpoints(trail.checkpoint_file))
    assert sorted(published, key=lambda cp: cp.seq) == stored_checkpoints
    assert len(published) >= 2
    report = verify(entries, published, signer.verifier())
    assert report.ok, report.problem
    assert report.entries_checked == total
    assert report.unsigned_tail == 0


def test_first_appends_racing_on_an_empty_trail(engine: Engine, tmp_path: Path) -> None:
    """No head row yet: every writer tries to create it; all must succeed, in one chain."""
    trail = AuditTrail(Ed25519Signer(Ed25519PrivateKey.generate()), tmp_path / "cp")
    start = threading.Barrier(THREADS)

    def first(worker: int) -> None:
        start.wait()
        with engine.begin() as conn:
            trail.append(conn, [AuditEvent(AuditAction.SYSTEM_REGISTERED, f"w{worker}")])

    run_threads(THREADS, first)
    with engine.connect() as conn:
        entries = list(load_entries(conn))
    assert [e.seq for e in entries] == list(range(1, THREADS + 1))
    assert verify(entries, [], Ed25519Signer(Ed25519PrivateKey.generate()).verifier()).ok

"""How fast the audit trail appends and verifies, on real databases and files.

Targets: appending in batches >= 10,000 entries/s; verifying >= 200,000 entries/s. The
assertions use half the target as the floor, so a busy CI machine does not fail the build while
a real slowdown (an extra round trip per entry, a quadratic verifier) still does. The measured
rates are printed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, event

from audit.checkpoint import read_checkpoints
from audit.entry import AuditAction, AuditEvent
from audit.signing import Ed25519Signer
from audit.tables import metadata
from audit.trail import AuditTrail
from audit.verify import load_entries, read_export, verify, write_export

APPEND_TARGET = 10_000
VERIFY_TARGET = 200_000
BATCH = 500


def sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    metadata.create_all(engine)
    return engine


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    """On a fresh schema (shared fixture in tests/conftest.py; skips without PostgreSQL)."""
    engine = create_engine(postgres_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def events(n: int) -> list[AuditEvent]:
    key = b"test-subject-key"
    return [
        AuditEvent(
            AuditAction.DELIVERED,
            "hub-worker",
            purpose="care_planning",
            district="sodermalm",
            agreement="sodermalm-aldre-direkt@3",
            message_id=str(uuid.UUID(int=i)),
            subject_ref=hmac.new(key, str(i).encode(), hashlib.sha256).hexdigest(),
            source="paraplyet",
            destination="aldre-direkt",
        )
        for i in range(n)
    ]


def append_rate(engine: Engine, trail: AuditTrail, total: int) -> float:
    batch = events(BATCH)
    started = time.perf_counter()
    for _ in range(total // BATCH):
        with engine.begin() as conn:
            trail.append(conn, batch)
    return total / (time.perf_counter() - started)


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[audit speed] {line}")


def test_append_and_verify_rates_on_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    trail = AuditTrail(signer, tmp_path / "cp", checkpoint_every=1000)
    engine = sqlite_engine(tmp_path / "hub.db")
    total = 100_000
    rate = append_rate(engine, trail, total)
    report(capsys, f"append, SQLite file, batches of {BATCH}: {rate:,.0f} entries/s")
    assert rate >= APPEND_TARGET / 2

    with engine.begin() as conn:
        cp = trail.checkpoint(conn)
    assert cp is not None
    trail.publish_checkpoint(cp)
    checkpoints = list(read_checkpoints(trail.checkpoint_file))

    with engine.connect() as conn:
        started = time.perf_counter()
        entries = list(load_entries(conn))
        loaded = total / (time.perf_counter() - started)
        export = tmp_path / "audit.jsonl"
        write_export(conn, export)
    engine.dispose()

    started = time.perf_counter()
    result = verify(entries, checkpoints, signer.verifier())
    in_memory = total / (time.perf_counter() - started)
    assert result.ok, result.problem
    assert result.entries_checked == total

    started = time.perf_counter()
    result = verify(read_export(export), checkpoints, signer.verifier())
    from_file = total / (time.perf_counter() - started)
    assert result.ok, result.problem

    report(capsys, f"verify, entries in memory: {in_memory:,.0f} entries/s")
    report(capsys, f"verify, streamed from an export file: {from_file:,.0f} entries/s")
    report(capsys, f"load_entries from SQLite (no verify): {loaded:,.0f} entries/s")
    assert in_memory >= VERIFY_TARGET / 2


@pytest.mark.postgres
def test_append_rate_on_postgres(
    pg_engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    trail = AuditTrail(signer, tmp_path / "cp")
    total = 20_000
    rate = append_rate(pg_engine, trail, total)
    report(capsys, f"append, PostgreSQL, batches of {BATCH}: {rate:,.0f} entries/s")
    assert rate >= APPEND_TARGET / 2

    with pg_engine.connect() as conn:
        started = time.perf_counter()
        result = verify(load_entries(conn), [], signer.verifier())
        streamed = total / (time.perf_counter() - started)
    assert result.ok, result.problem
    assert result.entries_checked == total
    report(capsys, f"verify, streamed from PostgreSQL: {streamed:,.0f} entries/s")

"""What the audit trail tests on real databases share: a trail on a SQLite file (as the hub runs
it) or on PostgreSQL when OMSORGSHUB_TEST_POSTGRES_URL is set, a settable clock, and tampering
done with SQL the way someone with database access would."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, text

from audit.chain import Walk
from audit.checkpoint import Checkpoint, read_checkpoints
from audit.entry import AuditAction, AuditEvent
from audit.head import read_head
from audit.segments import Source, walk_in_parallel
from audit.signing import (
    Ed25519Signer,
    Verifier,
    generate_signing_key,
    load_signer,
    load_verifier,
)
from audit.tables import audit_head, metadata
from audit.trail import AuditTrail, load_checkpoints
from audit.verify import VerifyReport, load_entries, load_rows, signatures, verify, verify_walk
from tests.integration.spine import Clock

HMAC_KEY = b"test-subject-key"
TOLVAN = "191212121212"  # fictional, valid check digit


def subject_ref(pnr: str) -> str:
    return hmac.new(HMAC_KEY, pnr.encode(), hashlib.sha256).hexdigest()


def sqlite_engine(path: Path) -> Engine:
    """SQLite as the hub runs it: WAL, and BEGIN IMMEDIATE so writers serialize at BEGIN."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    metadata.create_all(engine)
    return engine


@dataclass
class Setup:
    engine: Engine
    trail: AuditTrail
    signer: Ed25519Signer
    public_pem: Path
    folder: Path
    clock: Clock


@contextmanager
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgres":
        # The shared fixture (tests/conftest.py): a fresh schema, or a skip with the reason.
        engine = create_engine(request.getfixturevalue("postgres_url"))
        metadata.create_all(engine)
    else:
        engine = sqlite_engine(tmp_path / "hub.db")
    yield engine
    engine.dispose()


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def open_setup(
    request: pytest.FixtureRequest, tmp_path: Path, **trail_options: Any
) -> Iterator[Setup]:
    """A trail over a fresh database; ``trail_options`` go to ``AuditTrail``."""
    keys = tmp_path / "keys"
    keys.mkdir()
    generate_signing_key(keys / "audit.key", keys / "audit.pub")
    signer = load_signer(keys / "audit.key")
    clock = Clock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))
    folder = tmp_path / "checkpoints"
    with backend(request, tmp_path) as engine:
        options: dict[str, Any] = {"checkpoint_every": 10, "checkpoint_interval": 60}
        trail = AuditTrail(signer, folder, clock=clock, **{**options, **trail_options})
        yield Setup(engine, trail, signer, keys / "audit.pub", folder, clock)


def delivery_event(i: int) -> AuditEvent:
    return AuditEvent(
        action=AuditAction.DELIVERED,
        actor="hub-worker",
        purpose="care_planning",
        district="sodermalm",
        agreement="sodermalm-aldre-direkt@3",
        message_id=f"msg-{i}",
        subject_ref=subject_ref(TOLVAN),
        source="paraplyet",
        destination="aldre-direkt",
    )


def fill(s: Setup, n: int = 55) -> None:
    """``n`` entries, appended in batches of 5, with a published checkpoint every 10."""
    for start in range(0, n, 5):
        with s.engine.begin() as conn:
            s.trail.append(conn, [delivery_event(i) for i in range(start, start + 5)])
            cp = s.trail.checkpoint(conn) if s.trail.checkpoint_due(conn) else None
        if cp is not None:
            s.trail.publish_checkpoint(cp)
        s.clock.now += timedelta(seconds=1)


def check(s: Setup) -> VerifyReport:
    """The trail verified against the published checkpoints; read in seq ranges by several
    processes (``audit.segments``, split in 2 to 5 ranges) it must give the very same report."""
    published = s.trail.checkpoint_file
    checkpoints = list(read_checkpoints(published)) if published.exists() else []
    verifier = load_verifier(s.public_pem)
    with s.engine.connect() as conn:
        report = verify(load_entries(conn), checkpoints, verifier)
        for processes in range(2, 6):
            assert in_ranges(conn, checkpoints, verifier, processes) == report, processes
    return report


def in_ranges(
    conn: Connection, checkpoints: list[Checkpoint], verifier: Verifier, processes: int
) -> VerifyReport:
    """What ``verify_stored`` does for a long trail, without its fallback to one process (a
    failing process must fail the test, not hide behind the fallback)."""
    sigs, checked, conflict = signatures(checkpoints, verifier)
    source = Source.of(conn)
    assert source is not None
    head = read_head(conn, lock=False)
    last = 0 if head is None else head.seq

    def walk_all(state: Walk) -> None:
        walk_in_parallel(
            source, sigs, state, lambda after: load_rows(conn, after_seq=after), last, processes
        )

    return verify_walk(walk_all, sigs, checked, conflict, None)


def failing_action(s: Setup, *, sign: bool) -> None:
    """An action that audits (and maybe checkpoints), then fails and rolls back."""
    with s.engine.begin() as conn:
        s.trail.append(conn, [delivery_event(98), delivery_event(99)])
        if sign:
            assert s.trail.checkpoint(conn) is not None
        raise RuntimeError("action failed")


def execute(s: Setup, sql: str, **params: object) -> None:
    with s.engine.begin() as conn:
        conn.execute(text(sql), params)


def roll_back_to_checkpoint(s: Setup, seq: int) -> None:
    """With SQL alone: cut the entries and checkpoints after ``seq`` and set the head back to the
    signed head of checkpoint ``seq``, as someone holding the database could."""
    with s.engine.connect() as conn:
        checkpoint = next(cp for cp in load_checkpoints(conn) if cp.seq == seq)
    execute(s, "DELETE FROM audit_entries WHERE seq > :seq", seq=seq)
    execute(s, "DELETE FROM audit_checkpoints WHERE seq > :seq", seq=seq)
    with s.engine.begin() as conn:
        conn.execute(
            audit_head.update().values(
                seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at,
                key_id=checkpoint.key_id, signature=checkpoint.signature,
            )
        )  # fmt: skip

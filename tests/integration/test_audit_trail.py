"""The audit trail on real databases (a SQLite file, and PostgreSQL when
OMSORGSHUB_TEST_POSTGRES_URL is set): append, checkpoints, publishing, tampering done with SQL
the way someone with database access would, and offline verification of an export."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select, text

from audit.checkpoint import Checkpoint, read_checkpoints
from audit.entry import AuditAction, AuditEntry, AuditEvent, Outcome, chain_hash
from audit.signing import (
    Ed25519Signer,
    Ed25519Verifier,
    generate_signing_key,
    load_signer,
    load_verifier,
)
from audit.tables import audit_checkpoints, audit_entries, audit_head, metadata
from audit.trail import AuditTrail, load_checkpoints
from audit.verify import VerifyReport, load_entries, read_export, verify, write_export

HMAC_KEY = b"test-subject-key"
TOLVAN = "191212121212"  # fictional, valid check digit
REPO_ROOT = Path(__file__).resolve().parents[2]


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


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    keys = tmp_path / "keys"
    keys.mkdir()
    generate_signing_key(keys / "audit.key", keys / "audit.pub")
    signer = load_signer(keys / "audit.key")
    clock = Clock()
    folder = tmp_path / "checkpoints"
    with backend(request, tmp_path) as engine:
        trail = AuditTrail(signer, folder, checkpoint_every=10, checkpoint_interval=60, clock=clock)
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
    published = s.trail.checkpoint_file
    with s.engine.connect() as conn:
        return verify(
            load_entries(conn),
            read_checkpoints(published) if published.exists() else [],
            load_verifier(s.public_pem),
        )


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


# -- appending -----------------------------------------------------------------------------


def test_append_chains_entries_and_moves_the_head(setup: Setup) -> None:
    with setup.engine.begin() as conn:
        first = setup.trail.append(conn, [delivery_event(0), delivery_event(1)])
    with setup.engine.begin() as conn:
        second = setup.trail.append(conn, [delivery_event(2)])
        head = conn.execute(select(audit_head)).one()
        stored = list(load_entries(conn))
    assert [e.seq for e in first + second] == [1, 2, 3]
    assert second[0].prev_hash == first[1].hash
    assert stored == first + second
    assert (head.seq, head.hash) == (3, second[0].hash)
    assert stored[0].at == "2025-03-01T09:00:00.000000+00:00"
    assert stored[0].subject_ref == subject_ref(TOLVAN)


def test_rolled_back_append_leaves_no_trace(setup: Setup) -> None:
    with setup.engine.begin() as conn:
        setup.trail.append(conn, [delivery_event(0)])
    with pytest.raises(RuntimeError, match="action failed"):
        failing_action(setup, sign=False)
    with setup.engine.begin() as conn:
        again = setup.trail.append(conn, [delivery_event(3)])
    assert again[0].seq == 2
    assert check(setup).ok


def test_append_refuses_to_run_outside_a_transaction(setup: Setup) -> None:
    with setup.engine.connect() as conn, pytest.raises(RuntimeError, match="transaction"):
        setup.trail.append(conn, [delivery_event(0)])


def test_event_time_is_kept_and_stored_exactly(setup: Setup) -> None:
    at = datetime(2025, 2, 28, 23, 59, 59, 999999, tzinfo=UTC)
    ev = AuditEvent(
        action="viewed",  # type: ignore[arg-type]
        actor="anna.handlaggare",
        outcome=Outcome.REFUSED,
        reason="no_agreement",
        at=at,
    )
    with setup.engine.begin() as conn:
        (stored,) = setup.trail.append(conn, [ev])
    with setup.engine.connect() as conn:
        (loaded,) = load_entries(conn)
    assert loaded == stored
    assert loaded.at_datetime == at
    assert (loaded.action, loaded.outcome, loaded.purpose) == ("viewed", "refused", None)
    assert loaded.hash == chain_hash(loaded.prev_hash, loaded)


# -- checkpoints -----------------------------------------------------------------------------


def test_checkpoint_due_after_n_entries_or_t_seconds(setup: Setup) -> None:
    with setup.engine.begin() as conn:
        assert not setup.trail.checkpoint_due(conn)
        assert setup.trail.checkpoint(conn) is None  # nothing to sign yet
        setup.trail.append(conn, [delivery_event(i) for i in range(9)])
        assert not setup.trail.checkpoint_due(conn)
        setup.trail.append(conn, [delivery_event(9)])
        assert setup.trail.checkpoint_due(conn)
        cp = setup.trail.checkpoint(conn)
        assert cp is not None
        assert cp.seq == 10
        assert not setup.trail.checkpoint_due(conn)
        assert setup.trail.checkpoint(conn) is None  # the head is already signed
        setup.trail.append(conn, [delivery_event(10)])
        setup.clock.now += timedelta(seconds=59)
        assert not setup.trail.checkpoint_due(conn)
        setup.clock.now += timedelta(seconds=1)
        assert setup.trail.checkpoint_due(conn)


def test_published_checkpoints_match_the_database(setup: Setup) -> None:
    fill(setup)
    published = list(read_checkpoints(setup.trail.checkpoint_file))
    with setup.engine.connect() as conn:
        stored = load_checkpoints(conn)
    assert [cp.seq for cp in published] == [10, 20, 30, 40, 50]
    assert published == stored
    lines = setup.trail.checkpoint_file.read_text().splitlines()
    assert json.loads(lines[0])["key_id"] == setup.signer.key_id


def test_publish_missing_recovers_a_crash_between_commit_and_publish(setup: Setup) -> None:
    fill(setup, 20)
    with setup.engine.begin() as conn:
        setup.trail.append(conn, [delivery_event(i) for i in range(10)])
        assert setup.trail.checkpoint(conn) is not None
    # ... the process died here, before publish_checkpoint.
    assert [cp.seq for cp in read_checkpoints(setup.trail.checkpoint_file)] == [10, 20]
    with setup.engine.connect() as conn:
        assert setup.trail.publish_missing(conn) == 1
        assert setup.trail.publish_missing(conn) == 0
    assert [cp.seq for cp in read_checkpoints(setup.trail.checkpoint_file)] == [10, 20, 30]


def test_rolled_back_checkpoint_is_not_published(setup: Setup) -> None:
    fill(setup, 10)
    with pytest.raises(RuntimeError, match="action failed"):
        failing_action(setup, sign=True)
    with setup.engine.connect() as conn:
        assert [cp.seq for cp in load_checkpoints(conn)] == [10]
        assert setup.trail.publish_missing(conn) == 0
    assert check(setup).ok


# -- tampering with SQL ------------------------------------------------------------------------


def test_intact_trail_verifies(setup: Setup) -> None:
    fill(setup)
    report = check(setup)
    assert report.ok, report.problem
    assert (report.entries_checked, report.checkpoints_checked) == (55, 5)
    assert report.unsigned_tail == 5


def test_altered_row_is_named(setup: Setup) -> None:
    fill(setup)
    execute(setup, "UPDATE audit_entries SET destination = 'mallory' WHERE seq = 23")
    report = check(setup)
    assert (report.ok, report.first_bad_seq) == (False, 23)


def test_deleted_row_is_named(setup: Setup) -> None:
    fill(setup)
    execute(setup, "DELETE FROM audit_entries WHERE seq = 23")
    report = check(setup)
    assert (report.ok, report.first_bad_seq) == (False, 23)


def test_inserted_row_is_named(setup: Setup) -> None:
    fill(setup)
    with setup.engine.connect() as conn:
        before = next(e for e in load_entries(conn) if e.seq == 22)
    # Make room at 23 (two steps: SQLite checks the primary key row by row) and insert a
    # well-formed entry that links to entry 22.
    execute(setup, "UPDATE audit_entries SET seq = -(seq + 1) WHERE seq >= 23")
    execute(setup, "UPDATE audit_entries SET seq = -seq WHERE seq < 0")
    forged = AuditEntry(
        **{**before.as_dict(), "seq": 23, "destination": "mallory", "prev_hash": before.hash}  # type: ignore[arg-type]
    )
    row = {**forged.as_dict(), "hash": chain_hash(before.hash, forged)}
    with setup.engine.begin() as conn:
        conn.execute(audit_entries.insert().values(row))
    report = check(setup)
    assert (report.ok, report.first_bad_seq) == (False, 23)
    assert "inserted" in report.problem


def test_reordered_rows_are_named(setup: Setup) -> None:
    fill(setup)
    execute(setup, "UPDATE audit_entries SET seq = -1 WHERE seq = 23")
    execute(setup, "UPDATE audit_entries SET seq = 23 WHERE seq = 24")
    execute(setup, "UPDATE audit_entries SET seq = 24 WHERE seq = -1")
    report = check(setup)
    assert (report.ok, report.first_bad_seq) == (False, 23)


def test_truncated_trail_is_named(setup: Setup) -> None:
    fill(setup)
    execute(setup, "DELETE FROM audit_entries WHERE seq > 37")
    execute(setup, "UPDATE audit_head SET seq = 37")
    report = check(setup)
    assert (report.ok, report.first_bad_seq) == (False, 38)
    assert report.bad_range == (38, 50)


def rewrite_from(s: Setup, seq: int) -> None:
    """Alter entry ``seq`` and re-hash the rest of the chain, as someone without the key can."""
    with s.engine.begin() as conn:
        entries = list(load_entries(conn))
        prev = entries[seq - 2].hash
        for e in entries[seq - 1 :]:
            values = {**e.as_dict(), "prev_hash": prev}
            if e.seq == seq:
                values["actor"] = "nobody"
            changed = AuditEntry(**values)  # type: ignore[arg-type]
            prev = chain_hash(prev, changed)
            conn.execute(
                audit_entries.update()
                .where(audit_entries.c.seq == e.seq)
                .values(actor=changed.actor, prev_hash=changed.prev_hash, hash=prev)
            )
        conn.execute(audit_head.update().values(hash=prev))


def test_consistent_rewrite_is_caught_by_the_published_checkpoint(setup: Setup) -> None:
    fill(setup)
    rewrite_from(setup, 25)
    with setup.engine.connect() as conn:
        assert verify(load_entries(conn), [], load_verifier(setup.public_pem)).ok
    report = check(setup)
    assert (report.ok, report.first_bad_seq, report.bad_range) == (False, 21, (21, 30))


def test_forged_checkpoint_signature_is_named(setup: Setup, tmp_path: Path) -> None:
    fill(setup)
    rewrite_from(setup, 25)
    # The attacker re-signs checkpoints 30.. with a key of their own under the same key id.
    generate_signing_key(tmp_path / "mallory.key", tmp_path / "mallory.pub")
    mallory = load_signer(tmp_path / "mallory.key")
    with setup.engine.connect() as conn:
        hashes = {e.seq: e.hash for e in load_entries(conn)}
    lines = []
    for cp in read_checkpoints(setup.trail.checkpoint_file):
        if cp.seq >= 30:
            forged = Checkpoint(cp.seq, hashes[cp.seq], cp.at, cp.key_id, b"")
            cp = Checkpoint(cp.seq, forged.hash, cp.at, cp.key_id, mallory.sign(forged.message()))
        lines.append(cp.to_json_line() + "\n")
    setup.trail.checkpoint_file.write_text("".join(lines))
    report = check(setup)
    assert (report.ok, report.first_bad_seq, report.bad_range) == (False, 30, (21, 30))
    assert "invalid signature" in report.problem


# -- offline verification ------------------------------------------------------------------------


def test_offline_verify_from_export_checkpoints_and_public_key(
    setup: Setup, tmp_path: Path
) -> None:
    fill(setup)
    dpo = tmp_path / "dpo"  # what the data-protection officer takes away: no database
    dpo.mkdir()
    with setup.engine.connect() as conn:
        assert write_export(conn, dpo / "audit.jsonl") == 55
    (dpo / "checkpoints.jsonl").write_bytes(setup.trail.checkpoint_file.read_bytes())
    (dpo / "audit.pub").write_bytes(setup.public_pem.read_bytes())
    setup.engine.dispose()  # from here on no database is used

    def offline() -> VerifyReport:
        return verify(
            read_export(dpo / "audit.jsonl"),
            read_checkpoints(dpo / "checkpoints.jsonl"),
            load_verifier(dpo / "audit.pub"),
        )

    def offline_cli() -> subprocess.CompletedProcess[str]:
        files = [str(dpo / name) for name in ("audit.jsonl", "checkpoints.jsonl", "audit.pub")]
        return subprocess.run(
            [sys.executable, "-m", "audit", "verify", *files],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    report = offline()
    assert report.ok, report.problem
    assert report.entries_checked == 55
    done = offline_cli()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: the audit trail verifies" in done.stdout

    lines = (dpo / "audit.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    row = json.loads(lines[42])  # line 0 is the header: line 42 holds entry 42
    assert row["seq"] == 42
    row["purpose"] = "marketing"
    lines[42] = json.dumps(row) + "\n"
    (dpo / "audit.jsonl").write_text("".join(lines), encoding="utf-8")
    assert offline().first_bad_seq == 42
    done = offline_cli()
    assert done.returncode == 1
    assert "FAILED at entry 42" in done.stdout


def test_read_export_rejects_a_file_that_is_not_an_export(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"format": "something-else"}\n')
    with pytest.raises(ValueError, match="not an audit export"):
        list(read_export(path))


# -- key files ----------------------------------------------------------------------------------


def test_generated_private_key_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key, pub = tmp_path / "a.key", tmp_path / "a.pub"
    key_id = generate_signing_key(key, pub)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()
    assert load_signer(key).key_id == key_id == load_verifier(pub).key_id
    original = key.read_bytes()
    with pytest.raises(FileExistsError):
        generate_signing_key(key, tmp_path / "other.pub")
    with pytest.raises(FileExistsError):
        generate_signing_key(tmp_path / "other.key", pub)
    assert key.read_bytes() == original
    assert not (tmp_path / "other.key").exists()


def test_load_signer_refuses_a_readable_private_key(tmp_path: Path) -> None:
    key = tmp_path / "a.key"
    generate_signing_key(key, tmp_path / "a.pub")
    os.chmod(key, 0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        load_signer(key)


def test_passphrase_protected_key(tmp_path: Path) -> None:
    key, pub = tmp_path / "a.key", tmp_path / "a.pub"
    generate_signing_key(key, pub, passphrase=b"correct horse")
    with pytest.raises(ValueError, match="not a usable private key"):
        load_signer(key)
    signer = load_signer(key, passphrase=b"correct horse")
    verifier: Ed25519Verifier = load_verifier(pub)
    assert verifier.verify(b"data", signer.sign(b"data"))
    assert not verifier.verify(b"other", signer.sign(b"data"))


def test_checkpoint_rows_hold_raw_signatures(setup: Setup) -> None:
    fill(setup, 10)
    with setup.engine.connect() as conn:
        sig = conn.execute(select(audit_checkpoints.c.signature)).scalar_one()
    assert isinstance(sig, bytes)
    assert len(sig) == 64

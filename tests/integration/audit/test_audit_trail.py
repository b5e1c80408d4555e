"""The audit trail on real databases (a SQLite file, and PostgreSQL when
OMSORGSHUB_TEST_POSTGRES_URL is set): append, checkpoints, publishing, key files."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError

import audit.driver
import audit.verify
from audit.checkpoint import read_checkpoints
from audit.entry import AuditEvent, Outcome, chain_hash
from audit.signing import (
    Ed25519Verifier,
    generate_signing_key,
    load_signer,
    load_verifier,
)
from audit.tables import ENTRY_COLUMNS, audit_checkpoints, audit_head
from audit.trail import load_checkpoints
from audit.verify import load_entries, load_rows, verify
from tests.integration.audit.audit_setup import (
    TOLVAN,
    Setup,
    check,
    delivery_event,
    failing_action,
    fill,
    subject_ref,
)

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


def test_a_rolled_back_transaction_of_two_appends_raises_no_alarm(setup: Setup) -> None:
    """A transaction that appends twice (a district's first data key, then its message) and
    rolls back: the second append read the first's head uncommitted, which this process must
    not take for a committed head, or the next append would see the head "go back"."""
    with setup.engine.begin() as conn:
        setup.trail.append(conn, [delivery_event(0)])
    conn = setup.engine.connect()
    with conn.begin() as tx:
        setup.trail.append(conn, [delivery_event(1)])
        setup.trail.append(conn, [delivery_event(2)])
        tx.rollback()
    conn.close()
    with setup.engine.begin() as conn:
        again = setup.trail.append(conn, [delivery_event(3)])
    assert again[0].seq == 2
    assert not setup.trail.alarm.raised
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


def test_reading_streams_across_fetches_and_leaves_the_connection_as_it_was(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fetch of 7 rows makes the 55 entries span eight fetches (a server-side cursor on
    # PostgreSQL): every row once, in order, the same as a plain select.
    monkeypatch.setattr(audit.verify, "_FETCH_ROWS", 7)
    fill(setup, 55)
    with setup.engine.begin() as conn:
        rows = list(load_rows(conn))
        plain = [tuple(r) for r in conn.execute(select(*ENTRY_COLUMNS).order_by(ENTRY_COLUMNS[0]))]
        assert [tuple(r) for r in rows] == plain
        assert [tuple(e) for e in load_entries(conn, after_seq=50)] == plain[50:]
        # Two reads open at once on one connection (each its own server-side cursor).
        pairs = list(zip(load_rows(conn), load_rows(conn), strict=True))
        assert [tuple(a) for a, _ in pairs] == [tuple(b) for _, b in pairs] == plain
        # The reads leave the connection as it was: a later statement on it is an ordinary
        # one (run in a server-side cursor, an UPDATE fails).
        conn.execute(audit_head.update().values(hash=audit_head.c.hash))
    report = verify(rows, [], load_verifier(setup.public_pem))
    assert (report.ok, report.entries_checked) == (True, 55)


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


def test_the_drivers_errors_come_out_as_sqlalchemys(setup: Setup) -> None:
    """The append's statements run on the driver's cursor; its errors still reach the callers
    (and the guards, which fail closed on them) as SQLAlchemy's."""
    with setup.engine.begin() as conn:
        (entry,) = setup.trail.append(conn, [delivery_event(0)])
        sql = audit.driver.statements(conn)
        assert sql is not None
        with pytest.raises(IntegrityError):  # the same seq again
            audit.driver.execute_many(conn, sql.insert_entries, [entry])
    with setup.engine.begin() as conn, pytest.raises(DBAPIError):  # sqlite3's, psycopg's own
        audit.driver.execute(conn, "UPDATE no_such_table SET x = 1", [])

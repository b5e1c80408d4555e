"""Tampering with the stored audit trail through SQL, as someone with database access would,
and offline verification of an export (SQLite file, and PostgreSQL when configured)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from audit.checkpoint import Checkpoint, read_checkpoints
from audit.entry import AuditEntry, chain_hash
from audit.signing import (
    generate_signing_key,
    load_signer,
    load_verifier,
)
from audit.stored import verify_stored
from audit.tables import audit_entries, audit_head
from audit.verify import VerifyReport, load_entries, read_export, verify, write_export
from tests.child_python import run_module
from tests.integration.audit.audit_setup import (
    Setup,
    check,
    execute,
    fill,
)

# -- tampering with SQL ------------------------------------------------------------------------


def test_intact_trail_verifies(setup: Setup) -> None:
    fill(setup)
    report = check(setup)
    assert report.ok, report.problem
    assert (report.entries_checked, report.checkpoints_checked) == (55, 5)
    assert report.unsigned_tail == 5


@pytest.mark.parametrize(
    "statements",
    [
        pytest.param(
            ["UPDATE audit_entries SET destination = 'mallory' WHERE seq = 23"], id="altered"
        ),
        pytest.param(["DELETE FROM audit_entries WHERE seq = 23"], id="deleted"),
        pytest.param(
            [
                "UPDATE audit_entries SET seq = -1 WHERE seq = 23",
                "UPDATE audit_entries SET seq = 23 WHERE seq = 24",
                "UPDATE audit_entries SET seq = 24 WHERE seq = -1",
            ],
            id="reordered",
        ),
    ],
)
def test_altered_deleted_or_reordered_row_is_named(setup: Setup, statements: list[str]) -> None:
    fill(setup)
    for statement in statements:
        execute(setup, statement)
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


def test_truncated_trail_is_named(setup: Setup) -> None:
    fill(setup)
    execute(setup, "DELETE FROM audit_entries WHERE seq > 37")
    execute(setup, "UPDATE audit_head SET seq = 37")
    report = check(setup)
    assert (report.ok, report.first_bad_seq) == (False, 38)
    assert report.bad_range == (38, 50)


@pytest.mark.parametrize("cut", [23, 50], ids=["middle", "end"])
def test_stored_trail_reads_in_ranges_with_the_same_report(setup: Setup, cut: int) -> None:
    """``verify_stored`` itself (a long trail's way: several processes) against one process."""
    fill(setup)
    execute(setup, "DELETE FROM audit_entries WHERE seq = :seq", seq=cut)
    verifier = load_verifier(setup.public_pem)
    kept = list(read_checkpoints(setup.trail.checkpoint_file))
    with setup.engine.connect() as conn:
        alone = verify_stored(conn, verifier, kept_elsewhere=kept, processes=1)
        in_ranges = verify_stored(conn, verifier, kept_elsewhere=kept, parallel_from=0)
    assert (alone.ok, alone.first_bad_seq) == (False, cut)
    assert in_ranges == alone


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
        return run_module("audit", "verify", *files, timeout=60)

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

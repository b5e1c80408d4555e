"""An entry written with database access alone is never signed over: each append signs the
head, the next append checks it, trips the integrity alarm and refuses until acknowledged
(SQLite file, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.alarm import IntegrityAlarmError
from audit.checkpoint import checkpoint_message
from audit.entry import AuditEntry, chain_hash, format_at
from audit.head import read_head
from audit.signing import load_verifier
from audit.stored import verify_stored
from audit.tables import audit_entries, audit_head
from audit.trail import AuditTrail, load_checkpoints
from audit.verify import load_entries
from tests.integration.audit.audit_setup import (
    Setup,
    delivery_event,
    execute,
    fill,
    roll_back_to_checkpoint,
)


def append_one(s: Setup, trail: AuditTrail | None = None, i: int = 100) -> list[AuditEntry]:
    with s.engine.begin() as conn:
        return (trail or s.trail).append(conn, [delivery_event(i)])


def forge_next(s: Setup, *, move_head: bool, minutes_ago: float = 0) -> AuditEntry:
    """Append a well-formed, correctly chained entry with SQL alone (no key)."""
    with s.engine.connect() as conn:
        last = list(load_entries(conn))[-1]
    at = s.clock.now - timedelta(minutes=minutes_ago)
    draft = last._replace(seq=last.seq + 1, at=format_at(at), destination="mallory", hash="")
    draft = draft._replace(prev_hash=last.hash)
    forged = draft._replace(hash=chain_hash(last.hash, draft))
    with s.engine.begin() as conn:
        conn.execute(audit_entries.insert().values(forged.as_dict()))
        if move_head:
            conn.execute(audit_head.update().values(seq=forged.seq, hash=forged.hash))
    return forged


def stored_report(s: Setup, grace: float = 60.0) -> object:
    with s.engine.connect() as conn:
        return verify_stored(
            conn,
            load_verifier(s.public_pem),
            unsigned_grace=grace,
            now=s.clock.now,
        )


def test_each_append_signs_its_head(setup: Setup) -> None:
    (entry,) = append_one(setup)
    with setup.engine.connect() as conn:
        head = read_head(conn, lock=False)
    assert head is not None
    signed = head.signed
    assert signed is not None
    assert (signed.seq, signed.hash) == (entry.seq, entry.hash)
    message = checkpoint_message(signed.seq, signed.hash, signed.at, signed.key_id)
    assert load_verifier(setup.public_pem).verify(message, signed.signature)


def test_forged_entry_under_a_moved_head_is_refused_and_never_signed(setup: Setup) -> None:
    fill(setup, 20)
    forged = forge_next(setup, move_head=True)
    with pytest.raises(IntegrityAlarmError, match="not signed by the hub"):
        append_one(setup)
    assert setup.trail.alarm.raised
    # Fail closed: every later append refuses too, and no checkpoint signs the forged head.
    with pytest.raises(IntegrityAlarmError):
        append_one(setup)
    with setup.engine.begin() as conn:
        assert setup.trail.checkpoint(conn) is None
        assert max(cp.seq for cp in load_checkpoints(conn)) < forged.seq
    report = stored_report(setup)
    assert (report.ok, report.first_bad_seq) == (False, forged.seq)  # type: ignore[attr-defined]
    assert "invalid signature" in report.problem  # type: ignore[attr-defined]


def test_forged_entry_beyond_the_head_is_refused_and_reported(setup: Setup) -> None:
    fill(setup, 20)
    forged = forge_next(setup, move_head=False, minutes_ago=5)
    with pytest.raises(IntegrityAlarmError, match="written without the hub"):
        append_one(setup)
    assert setup.trail.alarm.raised
    report = stored_report(setup)
    assert (report.ok, report.first_bad_seq) == (False, forged.seq)  # type: ignore[attr-defined]
    assert "covered by no signature" in report.problem  # type: ignore[attr-defined]
    # Within the grace it is a note, not yet an error (a publication may be on its way).
    assert stored_report(setup, grace=3600).ok  # type: ignore[attr-defined]


def test_a_head_rolled_back_to_an_older_signed_head_is_refused(setup: Setup) -> None:
    fill(setup, 20)  # checkpoints at 10 and 20
    append_one(setup)  # this process has now seen head 20 committed (it wrote 21 on it)
    roll_back_to_checkpoint(setup, 10)
    with pytest.raises(IntegrityAlarmError, match="went back from entry 20 to entry 10"):
        append_one(setup)


def test_acknowledgement_lifts_the_alarm_in_every_process(setup: Setup, tmp_path: Path) -> None:
    other = AuditTrail(setup.signer, tmp_path / "other", clock=setup.clock)  # another process
    fill(setup, 10)
    append_one(setup, other)
    forge_next(setup, move_head=True)
    for trail in (setup.trail, other):
        with pytest.raises(IntegrityAlarmError):
            append_one(setup, trail)
    setup.clock.now += timedelta(seconds=5)
    with setup.engine.begin() as conn:
        ack = setup.trail.acknowledge(conn, "operator:anna", "forged row 12 found, kept as is")
    assert ack.action == "audit_acknowledged"
    assert ack.reason is not None
    assert "not signed by the hub" in ack.reason
    assert not setup.trail.alarm.raised
    assert other.alarm.raised
    (after,) = append_one(setup, other)  # the other process sees the signed acknowledgement
    assert after.seq == ack.seq + 1
    assert not other.alarm.raised
    with setup.engine.connect() as conn:
        actions = conn.execute(select(audit_entries.c.action).order_by(audit_entries.c.seq))
        assert "audit_acknowledged" in actions.scalars().all()


def test_a_head_without_signature_is_refused_until_acknowledged(setup: Setup) -> None:
    """A trail from before signed heads (or a head whose signature was wiped)."""
    fill(setup, 10)
    execute(setup, "UPDATE audit_head SET signature = NULL, at = NULL, key_id = NULL")
    with pytest.raises(IntegrityAlarmError, match="carries no signature"):
        append_one(setup)
    with setup.engine.begin() as conn:
        setup.trail.acknowledge(conn, "operator:anna", "upgraded to signed heads")
    assert [e.seq for e in append_one(setup)] == [12]

"""Retention that ends by itself, on SQLite and PostgreSQL (issue 15, section 1).

The hub's clock is moved past the agreement's retention (the demo agreement of Södermalm keeps
two years): the payloads become unreadable with a specific error, the messages' metadata and
their audit entries stay, each batch has its audit entry, legal holds keep their messages until
lifted, the leak scan of the data folder finds what it found before (nothing), and on SQLite
the old ciphertext's bytes are gone from the files. Two hubs on one database running the job
at once shred each message once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from audit.entry import AuditAction, AuditEntry
from audit.search import AuditQuery, search
from hub.bootstrap import Hub
from hub.demo.fictional import FictionalPerson
from hub.demo.sandbox import Sandbox
from hub.errors import Conflict, InputError, RetentionEnded
from hub.services.audit_integrity import verify_trail
from hub.services.data_keys import rewrap_keys, rotate_keys
from hub.services.legal_holds import lift_hold, list_holds, place_hold
from hub.services.messages import show_message, view_payload
from hub.services.principal import Principal
from hub.services.retention import retention_status, run_retention, run_scheduled
from hub.storage.tables import messages
from proof.scan.needles import Person
from proof.scan.scanner import scan_run
from tests.integration.spine import (
    DISTRICT,
    SENDER,
    InlineDispatcher,
    Spine,
    close_spine,
    open_spine,
)

OPERATOR = Principal.operator("operator:test")
RETENTION = timedelta(days=365 * 2)  # the demo agreement's retention_days


def _send(spine: Spine, people: list[FictionalPerson], prefix: str) -> list[str]:
    """One message per person, a second apart (the job takes the oldest first)."""
    ids = []
    for i, person in enumerate(people):
        envelope = spine.envelope(f"{prefix}{i}", person)
        ids.append(spine.hub.ingestor.ingest(SENDER, envelope).message_id)
        spine.clock.advance(1)
    return ids


def _ciphertext(spine: Spine, message_id: str) -> bytes:
    with spine.hub.reader.connect() as conn:
        value = conn.execute(
            select(messages.c.ciphertext).where(messages.c.id == message_id)
        ).scalar_one()
    return bytes(value)


def _entries(
    spine: Spine, action: AuditAction, *, district: str | None = None, message_id: str | None = None
) -> list[AuditEntry]:
    with spine.hub.reader.connect() as conn:
        return search(conn, AuditQuery(action=action, district=district, message_id=message_id))


def _scan(spine: Spine, people: list[FictionalPerson]) -> tuple[bool, int]:
    persons = [
        Person(p.given_name, p.family_name, p.identity.scheme, p.identity.canonical) for p in people
    ]
    result = scan_run(spine.home, persons, database_url=spine.database_url)
    return result.ok, result.hits


def test_past_retention_payloads_end_metadata_and_audit_stay_holds_respected(
    spine: Spine,
) -> None:
    people = [next(spine.people) for _ in range(4)]
    kept, held_person = people[:3], people[3]
    ids = _send(spine, people, "ret-")
    spine.hub.relay.run_once()  # delivered, audited
    before = {i: _ciphertext(spine, i) for i in ids}
    scan_before = _scan(spine, people)
    assert scan_before == (True, 0)

    hold = place_hold(
        spine.hub,
        OPERATOR,
        DISTRICT,
        reason="court order 2026-17",
        subject=held_person.identity.formatted(),
    )
    with pytest.raises(InputError, match="reason"):
        place_hold(spine.hub, OPERATOR, DISTRICT, reason="  ")

    # Not yet past retention: nothing is due, a run shreds nothing.
    assert run_retention(spine.hub, OPERATOR).shredded == 0
    spine.clock.advance((RETENTION + timedelta(hours=1)).total_seconds())

    (rule,) = retention_status(spine.hub, OPERATOR).rules
    assert (rule.district, rule.retention_days) == (DISTRICT, 730)
    assert (rule.stored, rule.due, rule.held, rule.shredded) == (4, 3, 1, 0)
    dry = run_retention(spine.hub, OPERATOR, dry_run=True)
    assert (dry.due, dry.shredded) == (3, 0)
    assert _ciphertext(spine, ids[0]) == before[ids[0]]  # a dry run changes nothing

    run = run_retention(spine.hub, OPERATOR, batch=2)
    assert run.shredded == 3
    assert [b.count for b in run.batches] == [2, 1]
    oldest_two = sorted(ids[:2])  # a batch's ids, oldest first, are named as an id range
    assert (run.batches[0].first_id, run.batches[0].last_id) == tuple(oldest_two)
    assert run.batches[1].first_id == run.batches[1].last_id == ids[2]

    # The payload is gone, and says why; the held person's is not.
    for message_id in ids[:3]:
        with pytest.raises(RetentionEnded, match="retention of agreement") as caught:
            view_payload(spine.hub, message_id, actor=OPERATOR, reason="check")
        assert caught.value.reason == "retention_ended"
        assert _ciphertext(spine, message_id) == b"\x00"
    assert held_person.family_name.encode() in view_payload(
        spine.hub, ids[3], actor=OPERATOR, reason="check"
    )

    # Metadata and audit intact: the message, its deliveries, its received entries.
    detail = show_message(spine.hub, OPERATOR, ids[0])
    assert detail.message.district == DISTRICT
    assert [d.state for d in detail.deliveries] == ["delivered"]
    assert _entries(spine, AuditAction.RECEIVED, message_id=ids[0])
    batches = _entries(spine, AuditAction.RETENTION_ENDED, district=DISTRICT)
    assert len(batches) == 2
    first = batches[0]
    assert first.actor == "operator:test"
    assert first.agreement == rule.agreement_ref
    reason = first.reason or ""
    assert "2 payloads shredded" in reason
    assert f"ids {oldest_two[0]}..{oldest_two[1]}" in reason
    assert "rule 730 d" in reason
    assert _entries(spine, AuditAction.LEGAL_HOLD_PLACED, district=DISTRICT)
    assert verify_trail(spine.hub.settings).report.ok

    # Idempotent: nothing more to do while the hold stands.
    assert run_retention(spine.hub, OPERATOR).shredded == 0
    assert [h.id for h in list_holds(spine.hub, OPERATOR)] == [hold.id]
    lift_hold(spine.hub, OPERATOR, hold.id, reason="case closed")
    with pytest.raises(Conflict):
        lift_hold(spine.hub, OPERATOR, hold.id, reason="again")
    assert run_retention(spine.hub, OPERATOR).shredded == 1
    with pytest.raises(RetentionEnded):
        view_payload(spine.hub, ids[3], actor=OPERATOR, reason="check")
    (rule,) = retention_status(spine.hub, OPERATOR).rules
    assert (rule.stored, rule.shredded, rule.due, rule.held) == (0, 4, 0, 0)

    # The leak scan finds what it found before: nothing.
    assert _scan(spine, [*kept, held_person]) == scan_before


@pytest.fixture
def sqlite_spine(tmp_path: Path) -> Iterator[Spine]:
    s = open_spine(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    yield s
    close_spine(s)


def test_sqlite_leaves_no_bytes_of_a_shredded_payload_in_the_files(sqlite_spine: Spine) -> None:
    """The embedded database's files: the shredded rows' old bytes are overwritten (the job
    runs under ``secure_delete``), not left in free space for a disk image to find."""
    spine = sqlite_spine
    people = [next(spine.people) for _ in range(3)]
    ids = _send(spine, people, "bytes-")
    old = [_ciphertext(spine, i) for i in ids]
    spine.clock.advance((RETENTION + timedelta(days=1)).total_seconds())
    assert run_retention(spine.hub, OPERATOR).shredded == 3
    spine.hub.engine.dispose()  # the pool's connections closed: nothing holds the WAL
    database = spine.database_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(database)) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [p for p in spine.home.rglob("*") if p.is_file()]
    data = b"".join(p.read_bytes() for p in files)
    for blob in old:
        # the wrapped message key and the sealed body of each: neither is left anywhere
        assert blob[1:61] not in data
        assert blob[-48:] not in data


def test_two_hubs_running_at_once_shred_each_message_once(spine: Spine) -> None:
    count, hubs = 120, 2
    ids = spine.send(count, prefix="two-")
    spine.clock.advance((RETENTION + timedelta(days=1)).total_seconds())
    other = Sandbox(spine.home, database_url=spine.database_url).open(
        dispatcher=InlineDispatcher(), clock=spine.clock
    )
    runs: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(hubs)

    def job(hub: Hub) -> None:
        try:
            start.wait()
            runs.append(run_retention(hub, OPERATOR, batch=10).shredded)
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(h,)) for h in (spine.hub, other)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        other.close()
    assert not errors, errors
    assert sum(runs) == count, runs
    entries = _entries(spine, AuditAction.RETENTION_ENDED, district=DISTRICT)
    audited = sum(int((e.reason or "0").split(" ", 1)[0]) for e in entries)
    assert audited == count
    with spine.hub.reader.connect() as conn:
        left = conn.execute(
            select(messages.c.id).where(messages.c.id.in_(ids), messages.c.shredded_at.is_(None))
        ).all()
    assert left == []
    assert run_retention(spine.hub, OPERATOR).shredded == 0


def test_the_relay_runs_retention_on_its_own_timer(spine: Spine) -> None:
    ids = spine.send(2, prefix="timer-")
    spine.clock.advance((RETENTION + timedelta(days=1)).total_seconds())
    spine.hub.relay.every(0.001, lambda: run_scheduled(spine.hub), name="retention")
    for _ in range(200):
        spine.hub.relay.run_once()
        if _entries(spine, AuditAction.RETENTION_ENDED, district=DISTRICT):
            break
        threading.Event().wait(0.005)
    (entry,) = _entries(spine, AuditAction.RETENTION_ENDED, district=DISTRICT)
    assert entry.actor == "retention-job"
    for message_id in ids:
        with pytest.raises(RetentionEnded):
            view_payload(spine.hub, message_id, actor=OPERATOR, reason="check")


def test_a_district_hold_and_scope(spine: Spine) -> None:
    ids = spine.send(2, prefix="scope-")
    norr = Principal.district_admin("admin:norr", ["sdn-norr"])
    with pytest.raises(Exception, match="no district"):
        place_hold(spine.hub, norr, DISTRICT, reason="not ours")
    hold = place_hold(spine.hub, OPERATOR, DISTRICT, reason="inspection by IVO")
    assert list_holds(spine.hub, norr) == []
    spine.clock.advance((RETENTION + timedelta(days=1)).total_seconds())
    assert run_retention(spine.hub, norr).shredded == 0  # another district's messages
    assert run_retention(spine.hub, OPERATOR).shredded == 0  # held
    (rule,) = retention_status(spine.hub, OPERATOR).rules
    assert (rule.due, rule.held) == (0, 2)
    lift_hold(spine.hub, OPERATOR, hold.id, reason="inspection closed")
    assert run_retention(spine.hub, OPERATOR).shredded == len(ids)


def test_rewrap_leaves_shredded_payloads_and_moves_the_rest(spine: Spine) -> None:
    kept, gone = next(spine.people), next(spine.people)
    ids = _send(spine, [kept, gone], "rewrap-")
    place_hold(spine.hub, OPERATOR, DISTRICT, reason="kept", subject=kept.identity.formatted())
    spine.clock.advance((RETENTION + timedelta(days=1)).total_seconds())
    assert run_retention(spine.hub, OPERATOR).shredded == 1
    rotate_keys(spine.hub, OPERATOR, DISTRICT)
    assert rewrap_keys(spine.hub, OPERATOR, DISTRICT, batch=10) == [(DISTRICT, 1)]
    assert kept.family_name.encode() in view_payload(
        spine.hub, ids[0], actor=OPERATOR, reason="check"
    )
    with pytest.raises(RetentionEnded):
        view_payload(spine.hub, ids[1], actor=OPERATOR, reason="check")

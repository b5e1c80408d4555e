"""The three guards on the message path, failing closed, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.errors import ContractRefusal, GuardUnavailable, InvalidIdentityNumber, KeyShredded
from hub.services.agreements import revoke_agreement
from hub.services.messages import view_payload
from hub.storage.tables import messages
from tests.integration.spine import LEASE, SENDER, Spine, close_spine, open_spine


def _count_messages(spine: Spine) -> int:
    with spine.hub.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(messages)).scalar_one())


def test_revoking_the_agreement_stops_a_waiting_delivery(spine: Spine) -> None:
    spine.double.set_mode("down")
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()  # first attempt fails; the delivery waits for its retry
    revoke_agreement(spine.hub, spine.agreement().id, "contract ended", "dpo:test")
    spine.double.set_mode("up")
    spine.clock.advance(3600)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.state, d.last_reason) == ("refused", "revoked")
    assert spine.double.stats()["unique"] == 0  # the destination never accepted it
    with spine.hub.reader.connect() as conn:
        refused = search(conn, AuditQuery(message_id=mid, action=AuditAction.REFUSED))
    assert [e.reason.partition(": ")[0] for e in refused if e.reason] == ["revoked"]
    with pytest.raises(ContractRefusal) as caught:
        spine.send(1, prefix="after")
    assert caught.value.reason == "revoked"


@pytest.mark.parametrize(("offset_us", "delivered"), [(-1, True), (0, False), (1, False)])
def test_expiry_is_exact_at_the_boundary(
    tmp_path: Path, database_url: str, offset_us: int, delivered: bool
) -> None:
    valid_to = datetime.now(UTC) + timedelta(hours=1)
    spine = open_spine(tmp_path, database_url, agreement_to=valid_to)
    try:
        spine.dispatcher.drop = True
        (mid,) = spine.send(1)
        spine.dispatcher.drop = False
        spine.clock.now = valid_to + timedelta(microseconds=offset_us)
        spine.hub.relay.run_once(max_batches=1)  # claims nothing new: the claim is in flight
        spine.clock.now = valid_to + timedelta(microseconds=offset_us)
        spine.hub.executor.execute([(d, c) for batch in spine.dispatcher.dropped for d, c in batch])
        (d,) = spine.deliveries(mid)
        if delivered:
            assert d.state == "delivered"
        else:
            assert (d.state, d.last_reason) == ("refused", "expired")
    finally:
        close_spine(spine)


def test_an_audit_trail_that_cannot_be_written_lets_nothing_out(spine: Spine) -> None:
    ids = spine.send(2)
    with spine.hub.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entries RENAME TO audit_entries_away"))
    spine.hub.relay.run_once()
    assert spine.double.stats()["requests"] == 0
    assert spine.states(ids) == ["in_flight", "in_flight"]
    with pytest.raises(GuardUnavailable):
        spine.send(1, prefix="while-broken")

    with spine.hub.engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_entries_away RENAME TO audit_entries"))
    spine.clock.advance(LEASE + 1)
    spine.hub.relay.run_once()
    assert spine.states(ids) == ["delivered", "delivered"]
    assert _count_messages(spine) == 2  # the message refused while broken was not stored


def test_an_agreement_store_that_cannot_be_read_refuses_ingest(spine: Spine) -> None:
    before = _count_messages(spine)
    with spine.hub.engine.begin() as conn:
        conn.execute(text("ALTER TABLE agreement_versions RENAME TO agreement_versions_away"))
    spine.hub.guards.agreements.invalidate()
    with pytest.raises(GuardUnavailable) as caught:
        spine.send(1)
    assert caught.value.reason == "agreement_store_unavailable"
    assert _count_messages(spine) == before


def test_an_invalid_identity_number_is_refused_and_audited(spine: Spine) -> None:
    person = next(spine.people)
    good = person.identity.formatted()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    document = spine.envelope("bad-pnr", person).replace(good.encode(), bad.encode())
    with pytest.raises(InvalidIdentityNumber) as caught:
        spine.hub.ingestor.ingest(SENDER, document)
    assert bad not in str(caught.value)
    with spine.hub.reader.connect() as conn:
        (entry,) = search(conn, AuditQuery(action=AuditAction.REFUSED))
    assert entry.reason == "invalid_identity_number"
    assert _count_messages(spine) == 0


def test_shredding_a_key_makes_its_payloads_unreadable_and_says_so(spine: Spine) -> None:
    spine.dispatcher.drop = True
    (mid,) = spine.send(1)
    keys = spine.hub.guards.keys
    with spine.hub.engine.begin() as conn:
        keys.rotate(conn, "sdn-sodermalm")
    spine.clock.advance(3600)  # past the shred grace period of the rotation
    with spine.hub.engine.begin() as conn:
        keys.shred(conn, "sdn-sodermalm", 1)
    with pytest.raises(KeyShredded) as caught:
        view_payload(spine.hub, mid, actor="dpo:test", reason="check")
    assert "shredded" in caught.value.detail

    spine.dispatcher.drop = False
    spine.clock.advance(LEASE + 1)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.state, d.last_reason) == ("dead", "key_shredded")
    assert spine.double.stats()["requests"] == 0


def test_viewing_a_payload_is_audited_with_the_reason(spine: Spine) -> None:
    person = next(spine.people)
    mid = spine.hub.ingestor.ingest(SENDER, spine.envelope("view-1", person)).message_id
    document = view_payload(spine.hub, mid, actor="operator:test", reason="caller asked")
    assert person.family_name.encode() in document
    with spine.hub.reader.connect() as conn:
        (entry,) = search(conn, AuditQuery(action=AuditAction.VIEWED))
    assert (entry.actor, entry.reason, entry.message_id) == ("operator:test", "caller asked", mid)
    assert entry.subject_ref == spine.hub.guards.hmacs.subject_ref(person.identity.canonical)


def test_no_personal_data_in_plain_text_at_rest_or_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spine = open_spine(tmp_path, f"sqlite:///{tmp_path / 'scan.db'}")
    caplog.set_level(logging.DEBUG)
    try:
        people = [next(spine.people) for _ in range(20)]
        spine.double.set_mode("down")  # failures and retries log too
        for i, person in enumerate(people):
            spine.hub.ingestor.ingest(SENDER, spine.envelope(f"scan-{i}", person))
        spine.hub.relay.run_once()
        spine.double.set_mode("up")
        spine.clock.advance(3600)
        spine.hub.relay.run_once()
        assert spine.double.stats()["unique"] == 20
        files = [p for p in tmp_path.rglob("*") if p.is_file() and "scan.db" in p.name]
        assert any(p.name.endswith("-wal") for p in files)
        data = b"".join(p.read_bytes() for p in files)
        assert len(data) > 10_000
        logs = caplog.text.encode()
        for person in people:
            for needle in (
                person.family_name,
                person.identity.canonical,
                person.identity.formatted(),
            ):
                assert needle.encode() not in data, f"{needle!r} in the database files"
                assert needle.encode() not in logs, f"{needle!r} in the logs"
        # The scan itself can find what it looks for: the documents did reach the double.
        delivered = b"".join(spine.double.documents().values())
        assert people[0].family_name.encode() in delivered
    finally:
        close_spine(spine)


def test_an_agreement_store_outage_at_delivery_holds_the_delivery_back(spine: Spine) -> None:
    (mid,) = spine.send(1)
    with spine.hub.engine.begin() as conn:
        conn.execute(text("ALTER TABLE agreement_versions RENAME TO agreement_versions_away"))
    spine.hub.guards.agreements.invalidate()
    spine.hub.relay.run_once()
    assert spine.states([mid]) == ["in_flight"]  # neither sent nor given up
    assert spine.double.stats()["requests"] == 0

    with spine.hub.engine.begin() as conn:
        conn.execute(text("ALTER TABLE agreement_versions_away RENAME TO agreement_versions"))
    spine.clock.advance(LEASE + 1)
    spine.hub.relay.run_once()
    assert spine.states([mid]) == ["delivered"]


def test_a_delivery_whose_worker_keeps_dying_ends_dead(spine: Spine) -> None:
    spine.dispatcher.drop = True  # every claim is lost, as if its worker died each time
    (mid,) = spine.send(1)
    max_attempts = int(spine.hub.routing.destination("case-sodermalm").retry.max_attempts)
    for _ in range(max_attempts):
        spine.hub.relay.run_once()
        spine.clock.advance(LEASE + 1)
    spine.dispatcher.drop = False
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.state, d.last_reason) == ("dead", "attempts_exhausted")
    assert spine.double.stats()["requests"] == 0

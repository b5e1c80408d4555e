"""Delivery, retries, dead letters, replay, leases and fencing, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from audit.entry import AuditAction
from audit.search import AuditQuery, search
from hub.cli.main import cli, register_subcommands
from hub.envelope import DeliveryState
from hub.services.messages import replay_deliveries
from hub.services.principal import Principal
from hub.storage.tables import deliveries
from tests.integration.spine import LEASE, RETRY, Spine, close_spine, open_spine


def _actions(spine: Spine, message_id: str) -> list[str]:
    with spine.hub.reader.connect() as conn:
        return [e.action for e in search(conn, AuditQuery(message_id=message_id))]


def test_each_message_is_delivered_once_with_its_audit_trail(spine: Spine) -> None:
    ids = spine.send(5)
    result = spine.hub.relay.run_once()
    assert result.claimed == 5
    assert spine.states(ids) == ["delivered"] * 5
    assert spine.double.stats()["unique"] == 5
    assert spine.double.stats()["duplicates"] == 0
    assert [d.attempts for m in ids for d in spine.deliveries(m)] == [1] * 5
    assert _actions(spine, ids[0]) == ["received", "decrypted", "delivered"]


def test_a_destination_down_then_up_is_retried_on_the_database_schedule(spine: Spine) -> None:
    spine.double.set_mode("down")
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert d.state == DeliveryState.RETRYING
    assert d.attempts == 1
    assert d.last_reason == "destination_unavailable"
    # Half-jittered first delay: between base/2 and base seconds from now.
    delay = (d.next_attempt_at - spine.clock()).total_seconds()
    assert RETRY["base_seconds"] / 2 <= delay <= RETRY["base_seconds"]
    assert spine.hub.relay.run_once().claimed == 0  # not due yet

    spine.double.set_mode("up")
    spine.clock.advance(delay)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.state, d.attempts) == ("delivered", 2)
    assert spine.double.stats()["unique"] == 1
    assert "delivery_failed" in _actions(spine, mid)


def test_attempts_exhausted_end_dead_with_the_reason(spine: Spine) -> None:
    spine.double.set_mode("unavailable")
    (mid,) = spine.send(1)
    for _ in range(int(RETRY["max_attempts"])):
        spine.hub.relay.run_once()
        spine.clock.advance(RETRY["cap_seconds"])
    (d,) = spine.deliveries(mid)
    assert d.state == DeliveryState.DEAD
    assert d.attempts == RETRY["max_attempts"]
    assert d.last_error is not None
    assert "attempts exhausted (4 of 4)" in d.last_error
    assert "dead" in _actions(spine, mid)


def test_a_rejection_is_dead_at_once_and_a_replay_with_a_reason_delivers_it(
    spine: Spine,
) -> None:
    spine.double.set_mode("reject")
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.state, d.attempts, d.last_reason) == ("dead", 1, "destination_rejected")

    runner = CliRunner()
    register_subcommands()
    env = {"OMSORGSHUB_HOME": str(spine.home), "OMSORGSHUB_DATABASE_URL": spine.database_url}
    refused = runner.invoke(cli, ["deliveries", "replay", d.id], env=env)
    assert refused.exit_code == 2  # --reason is required
    result = runner.invoke(
        cli,
        ["--as", "operator:test", "deliveries", "replay", "--dead", "--reason", "fixed mapping"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "replayed 1" in result.output

    spine.double.set_mode("up")
    # The CLI stamped the replay with the real clock, which has run on since the spine's clock
    # was set (on a loaded machine by more than a second): catch up with it, and a second more.
    spine.clock.now = max(spine.clock.now, datetime.now(UTC)) + timedelta(seconds=1)
    spine.hub.relay.run_once()
    assert spine.states([mid]) == ["delivered"]
    with spine.hub.reader.connect() as conn:
        (entry,) = search(conn, AuditQuery(action=AuditAction.REPLAYED))
    assert (entry.actor, entry.reason, entry.message_id) == (
        "operator:test",
        "fixed mapping",
        mid,
    )


def test_a_lost_broker_batch_is_delivered_after_the_lease_by_the_sweeper(spine: Spine) -> None:
    spine.dispatcher.drop = True
    ids = spine.send(3)
    assert spine.hub.relay.run_once().claimed == 3
    assert spine.states(ids) == ["in_flight"] * 3
    assert spine.double.stats()["requests"] == 0

    spine.dispatcher.drop = False
    spine.clock.advance(LEASE - 1)
    assert spine.hub.relay.run_once().swept == 0  # the lease still holds
    spine.clock.advance(2)
    result = spine.hub.relay.run_once()
    assert (result.swept, result.claimed) == (3, 3)
    assert spine.states(ids) == ["delivered"] * 3
    assert spine.double.stats()["unique"] == 3


def test_a_stale_claim_cannot_record_an_outcome(spine: Spine) -> None:
    spine.dispatcher.drop = True
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    (stale,) = spine.dispatcher.dropped[0]
    spine.clock.advance(LEASE + 1)
    spine.dispatcher.drop = False
    spine.hub.relay.run_once()  # swept, claimed again, delivered under the new claim
    (d,) = spine.deliveries(mid)
    assert (d.state, d.claim) == ("delivered", stale[1] + 1)

    # The presumed-dead worker wakes up with its old claim: it may not touch the delivery.
    assert spine.hub.executor.execute([stale]) == []
    assert spine.double.stats()["unique"] == 1
    (after,) = spine.deliveries(mid)
    assert after.updated_at == d.updated_at


def test_a_worker_killed_mid_batch_is_redelivered_with_the_same_idempotency_key(
    spine: Spine,
) -> None:
    """The wire delivery happened but the outcome was never recorded (the worker died)."""
    spine.dispatcher.drop = True
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    ((delivery_id, claim),) = spine.dispatcher.dropped[0]
    # Simulate the dead worker's half: the destination got it, the hub never heard back.
    prepared, _ = spine.hub.executor._prepare([(delivery_id, claim)])
    spine.hub.executor._send(prepared[0])
    assert spine.states([mid]) == ["in_flight"]

    spine.dispatcher.drop = False
    spine.clock.advance(LEASE + 1)
    spine.hub.relay.run_once()
    assert spine.states([mid]) == ["delivered"]
    stats = spine.double.stats()
    assert (stats["unique"], stats["duplicates"]) == (1, 1)


def test_claims_are_fenced_in_the_database(spine: Spine) -> None:
    spine.dispatcher.drop = True
    spine.send(2)
    spine.hub.relay.run_once()
    with spine.hub.reader.connect() as conn:
        rows = conn.execute(select(deliveries.c.state, deliveries.c.claim)).all()
    assert sorted(rows) == [("in_flight", 1), ("in_flight", 1)]


def test_max_age_ends_a_delivery_dead_through_the_outbox(tmp_path: Path, database_url: str) -> None:
    """Attempts remain, but the next one would fall after ``max_age_seconds``: dead, saying so."""
    retry = RETRY | {"max_attempts": 100.0, "max_age_seconds": 150.0}
    spine = open_spine(tmp_path, database_url, retry=retry)
    try:
        spine.double.set_mode("unavailable")
        (mid,) = spine.send(1)
        states = []
        for _ in range(10):  # at most 60 s apart: the age is passed within a few attempts
            spine.hub.relay.run_once()
            (d,) = spine.deliveries(mid)
            states.append(d.state)
            if d.state != DeliveryState.RETRYING:
                break
            spine.clock.advance(RETRY["cap_seconds"])
        assert d.state == DeliveryState.DEAD, states
        assert 2 <= d.attempts < 100, states
        assert d.last_error is not None
        assert "maximum age of 150 s reached" in d.last_error
        assert _actions(spine, mid)[-1] == "dead"
        requests = spine.double.stats()["requests"]
        assert isinstance(requests, int)
        assert requests >= d.attempts  # each attempt went to the wire (more: in-call retries)
    finally:
        close_spine(spine)


def test_a_replay_keeps_the_idempotency_key_so_the_destination_applies_it_once(
    spine: Spine,
) -> None:
    """The destination stored the delivery but the hub recorded it dead; a replay sends it again
    under the same key (the delivery id), and the destination de-duplicates it."""
    spine.dispatcher.drop = True
    (mid,) = spine.send(1)
    spine.hub.relay.run_once()
    ((delivery_id, claim),) = spine.dispatcher.dropped[0]
    prepared, _ = spine.hub.executor._prepare([(delivery_id, claim)])
    spine.hub.executor._send(prepared[0])  # it reached the destination; the answer was lost
    assert set(spine.double.documents()) == {delivery_id}

    spine.dispatcher.drop = False
    spine.double.set_mode("reject")  # the retry after the lease is refused: dead
    spine.clock.advance(LEASE + 1)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.id, d.state) == (delivery_id, "dead")

    operator = Principal.operator("test")
    assert replay_deliveries(spine.hub, operator, [delivery_id], reason="fixed").replayed == 1
    spine.double.set_mode("up")
    spine.clock.advance(1)
    spine.hub.relay.run_once()
    (d,) = spine.deliveries(mid)
    assert (d.id, d.state) == (delivery_id, "delivered")
    stats = spine.double.stats()
    assert set(spine.double.documents()) == {delivery_id}, stats  # the same key, not a new one
    assert (stats["unique"], stats["duplicates"]) == (1, 1), stats  # once in effect

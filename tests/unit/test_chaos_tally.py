"""The chaos run's verdict on duplicate effects (``proof/chaos/tally.py``): the same document
stored for one destination under two keys counts, and the report names the keys to chase.

The double is not started: its store is filled directly, as its request handler would; the
hub's deliveries are rows of an in-memory SQLite database with the hub's tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, insert

from hub.storage.tables import deliveries, messages, metadata
from proof.chaos.tally import Accepted, RecordingDouble, count, integrity, report

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine() -> Engine:
    made = create_engine("sqlite://")
    metadata.create_all(made, tables=[messages, deliveries])
    return made


def _message(engine: Engine, message_id: str, key: str, delivery_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(messages).values(
                id=message_id, sender="s", message_type="case.referral", version="1",
                district="sdn-a", purpose="referral", idempotency_key=key,
                content_digest="0" * 64, categories="", key_version=1, ciphertext=b"x",
                size=1, received_at=AT,
            )
        )  # fmt: skip
        conn.execute(
            insert(deliveries).values(
                id=delivery_id, message_id=message_id, destination="case", state="delivered",
                attempts=1, claim=1, next_attempt_at=AT, created_at=AT, updated_at=AT,
                district="sdn-a",
            )
        )  # fmt: skip


def _accepted(*delivery_ids: str) -> Accepted:
    accepted = Accepted()
    for delivery_id in delivery_ids:
        accepted.add([delivery_id], sent_at=0.0)
    return accepted


def test_one_document_under_two_delivery_ids_is_a_duplicate_effect_named_in_the_report(
    engine: Engine,
) -> None:
    _message(engine, "m1", "K-1", "d1")
    _message(engine, "m2", "K-2", "d2")  # the same document taken in under a second key
    _message(engine, "m3", "K-3", "d3")
    double = RecordingDouble()
    double._store("d1", b"<doc>one</doc>", {"x-omsorgshub-message-id": "m1"})
    double._store("d2", b"<doc>one</doc>", {"x-omsorgshub-message-id": "m2"})
    double._store("d3", b"<doc>three</doc>", {"x-omsorgshub-message-id": "m3"})
    double._store("d1", b"<doc>one</doc>", {"x-omsorgshub-message-id": "m1"})  # a wire repeat

    figures = count(_accepted("d1", "d2", "d3"), double, engine, (True, ""))

    assert (figures.delivered, figures.lost, figures.wire_repeats) == (3, [], 1)
    assert figures.duplicate_effects == 1
    assert not figures.ok
    (described,) = figures.duplicates
    assert "d1 (" in described
    assert "d2 (" in described
    assert "message m2" in described
    assert "the same document:    " + described in report(figures, {}, {})


def test_a_resend_under_an_id_the_database_lost_counts_against_its_message(
    engine: Engine,
) -> None:
    _message(engine, "m1", "K-1", "d1")
    double = RecordingDouble()
    double._store("d1", b"<doc>one</doc>", {"x-omsorgshub-message-id": "m1"})
    double._store("gone", b"<doc>one</doc>", {"x-omsorgshub-message-id": "m1"})

    figures = count(_accepted("d1"), double, engine, (True, ""))

    assert (figures.duplicate_effects, figures.unknown_effects) == (1, 0)
    assert "gone (" in figures.duplicates[0]
    assert "NO delivery row" in figures.duplicates[0]


def test_distinct_documents_are_no_duplicate(engine: Engine) -> None:
    _message(engine, "m1", "K-1", "d1")
    _message(engine, "m2", "K-2", "d2")
    double = RecordingDouble()
    double._store("d1", b"<doc>one</doc>", {})
    double._store("d2", b"<doc>two</doc>", {})

    figures = count(_accepted("d1", "d2"), double, engine, (True, ""))

    assert (figures.duplicate_effects, figures.duplicates, figures.ok) == (0, [], True)
    assert figures.integrity == "ok"


def test_a_message_id_stored_twice_fails_the_database_check() -> None:
    """What the unique index forbids, the run checks itself: a corrupt index would let it in."""
    made = create_engine("sqlite://")
    with made.begin() as conn:  # the messages table without its unique constraint
        conn.exec_driver_sql("CREATE TABLE messages (id TEXT, sender TEXT, idempotency_key TEXT)")
        conn.exec_driver_sql(
            "INSERT INTO messages VALUES ('m1', 's', 'K-1'), ('m2', 's', 'K-1'), ('m3', 's', 'K-3')"
        )

    assert integrity(made) == "message id 'K-1' of s stored twice"

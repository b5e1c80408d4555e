"""Ingest in batches (group commit): one message's failure does not spoil the others."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from hub.errors import HostileXml, IdempotencyConflict
from hub.ingest.prepared import IngestResult
from hub.storage.tables import deliveries, messages
from tests.integration.spine import SENDER, Spine


def _count(spine: Spine, table: object) -> int:
    with spine.hub.reader.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_batch_with_bad_repeated_and_conflicting_messages(spine: Spine) -> None:
    first = spine.envelope("batch-1")
    results = spine.hub.ingestor.ingest_many(
        SENDER,
        [
            first,
            b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
            first,  # the same message twice in one batch
            spine.envelope("batch-1"),  # the same id, other content
            spine.envelope("batch-2"),
        ],
    )
    ok, hostile, repeat, conflict, second = results
    assert isinstance(ok, IngestResult)
    assert not ok.duplicate
    assert isinstance(hostile, HostileXml)
    assert isinstance(repeat, IngestResult)
    assert repeat.duplicate
    assert repeat.message_id == ok.message_id
    assert isinstance(conflict, IdempotencyConflict)
    assert isinstance(second, IngestResult)
    assert not second.duplicate
    assert _count(spine, messages) == 2
    assert _count(spine, deliveries) == 2


def test_concurrent_senders_share_commits_and_lose_nothing(spine: Spine) -> None:
    documents = [spine.envelope(f"many-{i}") for i in range(120)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda d: spine.hub.ingestor.ingest(SENDER, d), documents))
    assert len({r.message_id for r in results}) == 120
    assert _count(spine, messages) == 120
    spine.hub.relay.run_once(max_batches=10)
    assert spine.double.stats()["unique"] == 120

"""AgreementCache against real databases: bounded staleness across processes, fail closed.

"Another process" is a real one: a child Python process revokes the agreement and commits.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text

from contracts.cache import AgreementCache
from contracts.errors import AgreementStoreUnavailableError
from contracts.fileformat import load_agreements
from contracts.model import Agreement
from contracts.policy import decide_delivery
from contracts.store import AgreementStore
from schemas.registry import CATEGORIES
from tests.integration.contracts.conftest import EXAMPLE, TYPES, Db

REPO = Path(__file__).resolve().parents[3]
DISTRICT = "sdn-sodermalm"

REVOKE_IN_ANOTHER_PROCESS = """
import sys
from sqlalchemy import create_engine
from contracts.store import AgreementStore
url, agreement_id = sys.argv[1:3]
engine = create_engine(url)
with engine.begin() as conn:
    AgreementStore().revoke(conn, agreement_id, "terminated by the district", "other-process")
engine.dispose()
"""


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stored(db: Db) -> list[Agreement]:
    agreements = load_agreements(EXAMPLE, known_categories=CATEGORIES, known_types=TYPES)
    kungsholmen = replace(agreements[1], id="PUB-2026-101", district="sdn-kungsholmen")
    store = AgreementStore()
    with db.engine.begin() as conn:
        return [store.add(conn, a, "admin.anna") for a in [*agreements, kungsholmen]]


def revoke_elsewhere(db: Db, agreement_id: str) -> None:
    subprocess.run(
        [sys.executable, "-c", REVOKE_IN_ANOTHER_PROCESS, db.url, agreement_id],
        cwd=REPO,
        check=True,
        timeout=60,
    )


def delivery_reason(agreements: tuple[Agreement, ...]) -> str:
    return decide_delivery(
        agreements,
        district=DISTRICT,
        recipient="funktionsbrevlada-sodermalm",
        purpose="case-referral",
        message_type="case.referral",
        categories=frozenset({"identity", "case"}),
        at=datetime(2026, 6, 1, tzinfo=UTC),
    ).reason


def test_cached_lookups_send_no_sql(db: Db, stored: list[Agreement]) -> None:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    cache = AgreementCache(AgreementStore(), max_age_seconds=60)
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.engine.connect() as conn:
            first = cache.agreements_for(conn, DISTRICT)
            loads = len(statements)
            for _ in range(1000):
                assert cache.agreements_for(conn, DISTRICT) is first
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [a.ref for a in first] == ["PUB-2026-014@1", "PUB-2026-015@1"]
    assert loads == 2  # the generation, then the district's agreements
    assert len(statements) == loads


def test_revocation_in_another_process_is_seen_at_max_age(db: Db, stored: list[Agreement]) -> None:
    clock = ManualClock()
    cache = AgreementCache(AgreementStore(), max_age_seconds=1.0, clock=clock)
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "allowed"
    revoke_elsewhere(db, "PUB-2026-014")
    clock.now += 0.999  # within the bound the cached answer stands (documented staleness)
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "allowed"
    clock.now += 0.001  # at max_age the generation is read again and the change is loaded
    current = cache.agreements_for(db.engine.connect, DISTRICT)
    assert [a.ref for a in current] == ["PUB-2026-014@2", "PUB-2026-015@1"]
    assert delivery_reason(current) == "revoked"


def test_revocation_in_another_process_within_real_time_bound(
    db: Db, stored: list[Agreement]
) -> None:
    max_age = 0.2
    cache = AgreementCache(AgreementStore(), max_age_seconds=max_age)
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "allowed"
    revoke_elsewhere(db, "PUB-2026-014")
    committed = time.monotonic()
    while delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "allowed":
        assert time.monotonic() - committed < max_age + 0.5, "revocation not seen in time"
        time.sleep(0.005)
    assert time.monotonic() - committed <= max_age + 0.5


def test_invalidate_shows_own_change_at_once(db: Db, stored: list[Agreement]) -> None:
    clock = ManualClock()
    store = AgreementStore()
    cache = AgreementCache(store, max_age_seconds=3600, clock=clock)
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "allowed"
    with db.engine.begin() as conn:
        store.revoke(conn, "PUB-2026-014", "ended", "admin.anna")
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "allowed"
    cache.invalidate()
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "revoked"
    with db.engine.connect() as conn:
        assert cache.generation == store.generation(conn) == 4


def test_unreachable_store_raises(tmp_path: Path) -> None:
    missing = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    cache = AgreementCache(AgreementStore())
    with pytest.raises(AgreementStoreUnavailableError):
        cache.agreements_for(missing.connect, DISTRICT)
    missing.dispose()


def test_store_lost_after_loading_fails_closed(db: Db, stored: list[Agreement]) -> None:
    clock = ManualClock()
    cache = AgreementCache(AgreementStore(), max_age_seconds=1.0, clock=clock)
    assert len(cache.agreements_for(db.engine.connect, DISTRICT)) == 2
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE agreement_generation"))
    clock.now += 1.0
    with pytest.raises(AgreementStoreUnavailableError):
        cache.agreements_for(db.engine.connect, DISTRICT)
    # what was cached is gone: the next lookup reads the store again and fails again
    with pytest.raises(AgreementStoreUnavailableError):
        cache.agreements_for(db.engine.connect, DISTRICT)
    with pytest.raises(AgreementStoreUnavailableError):
        cache.agreements_for(db.engine.connect, "sdn-kungsholmen")


def test_districts_are_cached_separately(db: Db, stored: list[Agreement]) -> None:
    cache = AgreementCache(AgreementStore())
    with db.engine.connect() as conn:
        assert [a.ref for a in cache.agreements_for(conn, "sdn-kungsholmen")] == ["PUB-2026-101@1"]
        assert [a.district for a in cache.agreements_for(conn, DISTRICT)] == [DISTRICT] * 2
        assert cache.agreements_for(conn, "sdn-farsta") == ()


def test_threads_share_the_cache_safely(db: Db, stored: list[Agreement]) -> None:
    """Readers on several threads while the agreement is revoked and the cache invalidated.

    The overlap is waited for, not slept for: every reader has read before the revocation and
    reads again after the invalidation, however slow the machine is."""
    store = AgreementStore()
    cache = AgreementCache(store, max_age_seconds=0.01)
    districts = [DISTRICT, "sdn-kungsholmen", "sdn-farsta"]
    errors: list[BaseException] = []
    reads = [0] * 8
    stop = threading.Event()

    def reader(offset: int) -> None:
        try:
            while not stop.is_set() or reads[offset] < 200:
                district = districts[(offset + reads[offset]) % len(districts)]
                agreements = cache.agreements_for(db.engine.connect, district)
                assert all(a.district == district for a in agreements)
                reads[offset] += 1
        except BaseException as exc:
            errors.append(exc)

    def every_reader_passes(marks: list[int]) -> None:
        deadline = time.monotonic() + 30
        while any(n < mark for n, mark in zip(reads, marks, strict=True)) and not errors:
            assert time.monotonic() < deadline, f"readers stalled at {reads}, wanted {marks}"
            time.sleep(0.005)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(len(reads))]
    for thread in threads:
        thread.start()
    every_reader_passes([10] * len(reads))  # all of them are reading
    with db.engine.begin() as conn:
        store.revoke(conn, "PUB-2026-014", "ended", "admin.anna")
    cache.invalidate()
    every_reader_passes([n + 10 for n in reads])  # and each read on through the change
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert delivery_reason(cache.agreements_for(db.engine.connect, DISTRICT)) == "revoked"

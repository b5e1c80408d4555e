"""AgreementStore against real databases: SQLite file always, PostgreSQL when configured.

PostgreSQL runs when OMSORGSHUB_TEST_POSTGRES_URL is set (and fails when that server does not
answer); each test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert, select, text

from contracts.errors import (
    AgreementConflictError,
    AgreementNotFoundError,
    AgreementStoreUnavailableError,
    InvalidAgreementError,
)
from contracts.fileformat import load_agreements
from contracts.model import Agreement
from contracts.store import AgreementStore
from contracts.tables import agreement_generation, agreement_versions
from schemas.registry import CATEGORIES
from tests.integration.contracts.conftest import EXAMPLE, TYPES, Db, postgres_db


class StepClock:
    """A clock that advances one second per reading, so versions get distinct times."""

    def __init__(self) -> None:
        self.now = datetime(2026, 2, 1, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def example() -> list[Agreement]:
    return load_agreements(EXAMPLE, known_categories=CATEGORIES, known_types=TYPES)


def test_add_stores_version_one_with_who_and_when(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore(clock=StepClock())
    with db.engine.begin() as conn:
        assert store.generation(conn) == 0
        added = store.add(conn, replace(example[0], version=7), "admin.anna")
    assert (added.version, added.changed_by) == (1, "admin.anna")
    assert added.changed_at == datetime(2026, 2, 1, 9, 0, 1, tzinfo=UTC)
    with db.engine.connect() as conn:
        assert store.get(conn, "PUB-2026-014") == added
        assert store.get(conn, "PUB-2026-014", 1) == added
        assert store.generation(conn) == 1


def test_add_refuses_an_existing_id(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore()
    with db.engine.begin() as conn:
        store.add(conn, example[0], "admin.anna")
    with db.engine.begin() as conn, pytest.raises(AgreementConflictError, match="exists"):
        store.add(conn, example[0], "admin.bo")


def test_update_appends_and_keeps_history(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore(clock=StepClock())
    with db.engine.begin() as conn:
        v1 = store.add(conn, example[0], "admin.anna")
        narrowed = replace(v1, recipients=frozenset({"funktionsbrevlada-sodermalm"}))
        v2 = store.update(conn, narrowed, "admin.bo", reason="referrals to the mailbox only")
        unchanged = store.update(conn, replace(v2, version=1), "admin.bo")
        assert store.generation(conn) == 2
    assert v2.version == 2
    assert v2.recipients == frozenset({"funktionsbrevlada-sodermalm"})
    assert unchanged == v2  # same content: no new version, no generation bump
    with db.engine.connect() as conn:
        assert store.history(conn, "PUB-2026-014") == [v1, v2]
        assert store.get(conn, "PUB-2026-014", 1) == v1
        assert store.get(conn, "PUB-2026-014") == v2
        reason = conn.execute(
            select(agreement_versions.c.reason).where(agreement_versions.c.version == 2)
        ).scalar()
        assert reason == "referrals to the mailbox only"


def test_update_refusals(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore()
    with db.engine.begin() as conn:
        v1 = store.add(conn, example[0], "admin.anna")
        store.update(conn, replace(v1, retention_days=60), "admin.anna")
        with pytest.raises(AgreementConflictError, match="version 2"):
            store.update(conn, replace(v1, retention_days=90), "admin.bo", expected_version=1)
        with pytest.raises(AgreementConflictError, match="controller"):
            store.update(conn, replace(v1, district="sdn-kungsholmen"), "admin.bo")
        with pytest.raises(AgreementNotFoundError):
            store.update(conn, replace(v1, id="PUB-1999-001"), "admin.bo")
        with pytest.raises(InvalidAgreementError):
            store.update(conn, replace(v1, retention_days=91), " ")
        store.revoke(conn, v1.id, "processor replaced", "admin.anna")
        with pytest.raises(AgreementConflictError, match="revoked"):
            store.update(conn, replace(v1, retention_days=30), "admin.bo")


def test_revoke_appends_a_revoked_version(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore(clock=StepClock())
    with db.engine.begin() as conn:
        store.add(conn, example[0], "admin.anna")
        with pytest.raises(InvalidAgreementError):
            store.revoke(conn, "PUB-2026-014", "  ", "admin.anna")
        revoked = store.revoke(conn, "PUB-2026-014", "processor replaced", "dpo.dana")
        with pytest.raises(AgreementConflictError, match="already revoked"):
            store.revoke(conn, "PUB-2026-014", "again", "dpo.dana")
        with pytest.raises(AgreementNotFoundError):
            store.revoke(conn, "PUB-1999-001", "no such", "dpo.dana")
    assert (revoked.version, revoked.status, revoked.revoked_reason) == (
        2,
        "revoked",
        "processor replaced",
    )
    assert revoked.senders == example[0].senders
    with db.engine.connect() as conn:
        assert [a.status for a in store.history(conn, "PUB-2026-014")] == ["active", "revoked"]


def test_lists_are_latest_versions(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore()
    kungsholmen = replace(example[1], id="PUB-2026-101", district="sdn-kungsholmen")
    with db.engine.begin() as conn:
        mirror = store.add(conn, example[0], "admin.anna")
        referrals = store.add(conn, example[1], "admin.anna")
        store.add(conn, kungsholmen, "admin.karl")
        mirror2 = store.update(conn, replace(mirror, retention_days=14), "admin.anna")
        revoked = store.revoke(conn, referrals.id, "ended", "admin.anna")
    with db.engine.connect() as conn:
        assert [a.ref for a in store.list_current(conn)] == [
            "PUB-2026-101@1",
            "PUB-2026-014@2",
            "PUB-2026-015@2",
        ]
        assert store.current_for(conn, "sdn-sodermalm") == [mirror2, revoked]
        assert store.active_for(conn, "sdn-sodermalm") == [mirror2]
        assert store.current_for(conn, "sdn-farsta") == []
        with pytest.raises(AgreementNotFoundError):
            store.history(conn, "PUB-1999-001")
        with pytest.raises(AgreementNotFoundError):
            store.get(conn, "PUB-2026-014", 9)


def test_versions_are_never_updated_or_deleted(db: Db, example: list[Agreement]) -> None:
    """Every statement the store sends during a whole lifecycle is recorded and inspected."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()).lower())

    store = AgreementStore()
    with db.engine.begin() as conn:
        v1 = store.add(conn, example[0], "admin.anna")
    with db.engine.connect() as conn:
        row_v1 = conn.execute(select(agreement_versions)).one()
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.engine.begin() as conn:
            v2 = store.update(conn, replace(v1, retention_days=7), "admin.bo")
            store.update(conn, replace(v2, purposes=frozenset({"case-referral", "x"})), "admin.bo")
            store.revoke(conn, v1.id, "ended", "dpo.dana")
            store.history(conn, v1.id)
            store.list_current(conn)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    touching = [s for s in statements if "agreement_versions" in s]
    assert sum(s.startswith("insert into agreement_versions") for s in touching) == 3
    assert not [s for s in touching if s.startswith(("update", "delete"))]
    assert [s for s in statements if s.startswith("update")] == [
        s for s in statements if s.startswith("update agreement_generation")
    ]
    with db.engine.connect() as conn:
        rows = conn.execute(select(agreement_versions).order_by(agreement_versions.c.version))
        assert next(iter(rows)) == row_v1
        assert store.generation(conn) == 4


def test_store_never_commits(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore()
    with db.engine.connect() as conn:
        store.add(conn, example[0], "admin.anna")
        store.revoke(conn, example[0].id, "test", "admin.anna")
        conn.rollback()
    with db.engine.connect() as conn:
        assert store.list_current(conn) == []
        assert store.generation(conn) == 0


def test_missing_generation_row_is_recreated(db: Db, example: list[Agreement]) -> None:
    """A database whose migration forgot the counter row still counts changes."""
    store = AgreementStore()
    with db.engine.begin() as conn:
        conn.execute(agreement_generation.delete())
        assert store.generation(conn) == 0
        store.add(conn, example[0], "admin.anna")
        assert store.generation(conn) == 1


def test_unreadable_row_fails_closed(db: Db, example: list[Agreement]) -> None:
    store = AgreementStore()
    with db.engine.begin() as conn:
        conn.execute(
            insert(agreement_versions).values(
                id="PUB-BAD-1",
                version=1,
                district="sdn-sodermalm",
                body='{"id": "PUB-BAD-1"}',
                status="active",
                changed_by="intruder",
                changed_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
    with db.engine.connect() as conn, pytest.raises(AgreementStoreUnavailableError):
        store.current_for(conn, "sdn-sodermalm")


def test_missing_tables_fail_closed(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with engine.connect() as conn:
        with pytest.raises(AgreementStoreUnavailableError):
            AgreementStore().current_for(conn, "sdn-sodermalm")
        with pytest.raises(AgreementStoreUnavailableError):
            AgreementStore().generation(conn)
    engine.dispose()


def _wait_until_blocked_by(
    pg: Db, pid: int, ended: Callable[[], bool], timeout: float = 10
) -> None:
    """Poll until a backend of this database waits on a lock held by backend ``pid``."""
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    while not ended():
        with pg.engine.connect() as conn:
            if conn.execute(query, {"pid": pid}).scalar_one():
                return
        assert time.monotonic() < deadline, f"nothing waited on backend {pid} within {timeout} s"
        time.sleep(0.01)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Db]:
    yield from postgres_db(postgres_url)


@pytest.mark.postgres
def test_concurrent_updates_cannot_both_win(pg: Db, example: list[Agreement]) -> None:
    """Two transactions amend the same version; the second to commit gets a conflict."""
    store = AgreementStore()
    with pg.engine.begin() as conn:
        v1 = store.add(conn, example[0], "admin.anna")
    outcome: list[BaseException | Agreement] = []

    def second() -> None:
        try:
            with pg.engine.begin() as other:
                outcome.append(store.update(other, replace(v1, retention_days=2), "admin.bo"))
        except BaseException as exc:
            outcome.append(exc)

    with pg.engine.begin() as first:
        store.update(first, replace(v1, retention_days=1), "admin.anna")
        first_pid = first.execute(text("SELECT pg_backend_pid()")).scalar_one()
        thread = threading.Thread(target=second)
        thread.start()
        # The race is decided by the server, not the clock: wait until PostgreSQL says the
        # second transaction waits on a lock the first one holds (or it ended without waiting).
        _wait_until_blocked_by(pg, first_pid, lambda: bool(outcome))
        assert not outcome, f"the second transaction did not wait on the first: {outcome}"
    thread.join(timeout=10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], AgreementConflictError)
    with pg.engine.connect() as conn:
        assert store.get(conn, v1.id).retention_days == 1
        assert store.generation(conn) == 2

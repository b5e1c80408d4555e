"""KeyStore under concurrent transactions: one version 1 per district, distinct rotations."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select, text

from hub.keys.store import KeyStore, LocalMasterKey
from hub.storage.tables import district_keys
from tests.integration.keystore.keystore_db import DISTRICT, MASTER, engine_for
from tests.integration.threads import run_threads


@pytest.fixture
def postgres(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from engine_for("postgresql", request, tmp_path)


# -- concurrency -------------------------------------------------------------------------------


def test_concurrent_first_use_creates_one_version_one(engine: Engine) -> None:
    districts = [f"district-{n}" for n in range(5)]
    workers = 6
    barrier = threading.Barrier(workers)

    def first_use(_: int) -> list[tuple[bytes, int, bool]]:
        keys = KeyStore(LocalMasterKey(bytes(range(32))))  # one store per "process"
        out = []
        for district in districts:
            barrier.wait(timeout=30)
            with engine.begin() as conn:
                key, created = keys.ensure(conn, district)
            out.append((key.key, key.version, created))
        return out

    results = run_threads(workers, first_use)
    for index in range(len(districts)):
        per_district = [r[index] for r in results]
        assert {(k, v) for k, v, _ in per_district} == {(per_district[0][0], 1)}
        assert sum(created for _, _, created in per_district) == 1
    with engine.begin() as conn:
        rows = conn.execute(select(district_keys.c.district, district_keys.c.version)).all()
    assert sorted(rows) == [(d, 1) for d in districts]


class _Blocked:
    """Runs ``work`` in a thread on its own connection; ``wait_blocked`` until it waits."""

    def __init__(self, engine: Engine, work: Callable[[Connection], object]) -> None:
        self._engine = engine
        self._pid: int | None = None
        self._started = threading.Event()
        self.result: object = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,))
        self._thread.start()

    def _run(self, work: Callable[[Connection], object]) -> None:
        try:
            with self._engine.begin() as conn:
                self._pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
                self._started.set()
                self.result = work(conn)
        except BaseException as exc:  # reported by join()
            self.error = exc
            self._started.set()

    def wait_blocked(self) -> None:
        assert self._started.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.error is None:
            with self._engine.connect() as conn:
                waiting = conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                    {"pid": self._pid},
                ).scalar_one()
            if waiting:
                return
            time.sleep(0.01)
        raise AssertionError(f"the second transaction never waited on the first: {self.error}")

    def join(self) -> object:
        self._thread.join(timeout=30)
        if self.error is not None:
            raise self.error
        return self.result


def test_postgres_loser_of_first_use_reads_the_winners_key(postgres: Engine) -> None:
    with postgres.connect() as conn_a:
        key_a, created_a = KeyStore(MASTER).ensure(conn_a, DISTRICT)  # inserted, uncommitted
        loser = _Blocked(postgres, lambda conn_b: KeyStore(MASTER).ensure(conn_b, DISTRICT))
        loser.wait_blocked()
        conn_a.commit()
        outcome = loser.join()
    assert isinstance(outcome, tuple)
    key_b, created_b = outcome
    assert (created_a, created_b) == (True, False)
    assert key_b == key_a


def test_postgres_concurrent_rotations_get_distinct_versions(postgres: Engine) -> None:
    with postgres.begin() as conn:
        KeyStore(MASTER).ensure(conn, DISTRICT)
    with postgres.connect() as conn_a:
        first = KeyStore(MASTER).rotate(conn_a, DISTRICT)
        second = _Blocked(postgres, lambda conn_b: KeyStore(MASTER).rotate(conn_b, DISTRICT))
        second.wait_blocked()
        conn_a.commit()
        assert (first, second.join()) == (2, 3)
    with postgres.begin() as conn:
        states = [(i.version, i.state) for i in KeyStore(MASTER).list(conn)]
    assert states == [(1, "retired"), (2, "retired"), (3, "active")]

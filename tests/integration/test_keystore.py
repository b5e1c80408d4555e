"""KeyStore and the master key file against real SQLite files and PostgreSQL.

PostgreSQL tests read OMSORGSHUB_TEST_POSTGRES_URL and skip when it is unset or unreachable.
Each test gets its own schema there, and its own database file for SQLite.
"""

from __future__ import annotations

import os
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, event, insert, select, text, update

from hub.errors import (
    ConfigError,
    CryptoError,
    GuardUnavailable,
    InputError,
    KeyShredded,
    NotFound,
)
from hub.keys import crypto
from hub.keys.store import (
    KeyState,
    KeyStore,
    LocalMasterKey,
    MasterKey,
    init_master_key,
    load_master_key,
)
from hub.storage.tables import district_keys, messages

MASTER = LocalMasterKey(bytes(range(32)))
DISTRICT = "Farsta"
TYPE = "client-summary"


# -- fixtures ----------------------------------------------------------------------------------


def _sqlite_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite+pysqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's begin below decide
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _postgres_engine() -> Iterator[Engine]:
    url = os.environ.get("OMSORGSHUB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("OMSORGSHUB_TEST_POSTGRES_URL is not set")
    schema = f"keys_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any failure to reach the server means skip
        admin.dispose()
        pytest.skip(f"PostgreSQL at OMSORGSHUB_TEST_POSTGRES_URL is unreachable: {exc}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        made = _sqlite_engine(tmp_path / "hub.db")
        district_keys.metadata.create_all(made, tables=[district_keys, messages])
        yield made
        made.dispose()
        return
    for made in _postgres_engine():
        district_keys.metadata.create_all(made, tables=[district_keys, messages])
        yield made


@pytest.fixture
def postgres() -> Iterator[Engine]:
    for made in _postgres_engine():
        district_keys.metadata.create_all(made, tables=[district_keys, messages])
        yield made


def store_message(
    conn: Connection, keys: KeyStore, message_id: str, body: bytes, district: str = DISTRICT
) -> int:
    """Seal ``body`` under the district's current key and insert it as the pipeline would."""
    key = keys.current(conn, district)
    aad = crypto.payload_aad(message_id, district, TYPE, key.version)
    conn.execute(
        insert(messages).values(
            id=message_id,
            sender="paraplyet",
            message_type=TYPE,
            version="1.0",
            district=district,
            purpose="contact-centre",
            idempotency_key=message_id,
            content_digest="0" * 64,
            categories="decisions",
            key_version=key.version,
            ciphertext=crypto.seal(key.key, body, aad),
            size=len(body),
            received_at=datetime.now(UTC),
        )
    )
    return key.version


def read_message(conn: Connection, keys: KeyStore, message_id: str) -> bytes:
    row = conn.execute(select(messages).where(messages.c.id == message_id)).one()
    key = keys.get(conn, row.district, row.key_version)
    aad = crypto.payload_aad(row.id, row.district, row.message_type, row.key_version)
    return crypto.unseal(key.key, row.ciphertext, aad)


def body(n: int) -> bytes:
    return f"<clientSummary><n>{n}</n><pnr>19121212121{n % 10}</pnr></clientSummary>".encode()


# -- first use, persistence, binding -----------------------------------------------------------


def test_first_use_creates_version_one_which_other_processes_read(engine: Engine) -> None:
    keys = KeyStore(MASTER)
    with engine.begin() as conn:
        key, created = keys.ensure(conn, DISTRICT)
        assert (key.version, created) == (1, True)
    with engine.begin() as conn:
        again, created = keys.ensure(conn, DISTRICT)
        assert (again, created) == (key, False)
        other_process = KeyStore(LocalMasterKey(bytes(range(32))))
        assert other_process.get(conn, DISTRICT, 1) == key
        stored = conn.execute(select(district_keys.c.wrapped_key)).scalar_one()
    assert key.key not in stored


def test_rolled_back_creation_leaves_no_phantom_key(engine: Engine) -> None:
    keys = KeyStore(MASTER, max_cache_age=60)
    with engine.connect() as conn:
        phantom, created = keys.ensure(conn, DISTRICT)
        assert created
        assert keys.current(conn, DISTRICT) == phantom  # read back inside the same transaction
        conn.rollback()
    with engine.begin() as conn:
        real, created = keys.ensure(conn, DISTRICT)
        assert created, "a key from a rolled-back transaction was served from the cache"
        store_message(conn, keys, "m-1", body(1))
    with engine.begin() as conn:
        assert read_message(conn, KeyStore(MASTER), "m-1") == body(1)
    assert real.key != phantom.key


def test_wrapped_key_copied_to_another_district_does_not_unwrap(engine: Engine) -> None:
    keys = KeyStore(MASTER)
    with engine.begin() as conn:
        keys.ensure(conn, DISTRICT)
        wrapped = conn.execute(select(district_keys.c.wrapped_key)).scalar_one()
        conn.execute(
            insert(district_keys).values(
                district="Skarpnack",
                version=1,
                wrapped_key=wrapped,
                state="active",
                created_at=datetime.now(UTC),
            )
        )
        with pytest.raises(CryptoError):
            keys.get(conn, "Skarpnack", 1)


def test_wrong_master_key_cannot_read_keys(engine: Engine) -> None:
    with engine.begin() as conn:
        KeyStore(MASTER).ensure(conn, DISTRICT)
    with engine.begin() as conn, pytest.raises(CryptoError):
        KeyStore(LocalMasterKey(bytes(32))).get(conn, DISTRICT, 1)


@pytest.mark.parametrize("moved_to", ["another message", "another district", "another version"])
def test_ciphertext_moved_to_another_binding_does_not_decrypt(
    engine: Engine, moved_to: str
) -> None:
    keys = KeyStore(MASTER)
    with engine.begin() as conn:
        store_message(conn, keys, "m-1", body(1))
        store_message(conn, keys, "m-2", body(2))
        store_message(conn, keys, "m-3", body(3), district="Skarpnack")
        stolen = conn.execute(
            select(messages.c.ciphertext).where(messages.c.id == "m-1")
        ).scalar_one()
        if moved_to == "another message":  # same district, same key version
            target, change = "m-2", {"ciphertext": stolen}
        elif moved_to == "another district":
            target, change = "m-3", {"ciphertext": stolen}
        else:  # the same row presented under the district's next key version
            keys.rotate(conn, DISTRICT)
            target, change = "m-1", {"key_version": 2}
        conn.execute(update(messages).where(messages.c.id == target).values(**change))
        with pytest.raises(CryptoError):
            read_message(conn, keys, target)
        untouched = "m-2" if target == "m-1" else "m-1"
        assert read_message(conn, keys, untouched) == body(int(untouched[-1]))


# -- rotate, shred, list -----------------------------------------------------------------------


def test_rotate_keeps_old_versions_decryptable(engine: Engine) -> None:
    keys = KeyStore(MASTER)
    with engine.begin() as conn:
        assert store_message(conn, keys, "m-1", body(1)) == 1
        assert keys.rotate(conn, DISTRICT) == 2
        assert store_message(conn, keys, "m-2", body(2)) == 2
    with engine.begin() as conn:
        fresh = KeyStore(MASTER)
        assert fresh.current(conn, DISTRICT).version == 2
        assert read_message(conn, fresh, "m-1") == body(1)
        assert read_message(conn, fresh, "m-2") == body(2)
        infos = fresh.list(conn)
    assert [(i.version, i.state, i.message_count) for i in infos] == [
        (1, KeyState.RETIRED, 1),
        (2, KeyState.ACTIVE, 1),
    ]
    assert infos[0].retired_at is not None
    assert infos[0].retired_at.tzinfo is not None


def test_shred_makes_get_raise_key_shredded(engine: Engine) -> None:
    keys = KeyStore(MASTER, shred_grace=0)
    with engine.begin() as conn:
        store_message(conn, keys, "m-1", body(1))
        keys.rotate(conn, DISTRICT)
        keys.shred(conn, DISTRICT, 1)
        with pytest.raises(KeyShredded, match=f"key version 1 of district {DISTRICT} was shred"):
            read_message(conn, keys, "m-1")
    with engine.begin() as conn:
        row = conn.execute(select(district_keys).where(district_keys.c.version == 1)).one()
        assert (row.wrapped_key, row.state) == (None, "shredded")
        assert row.shredded_at is not None
        with pytest.raises(KeyShredded) as caught:
            KeyStore(MASTER).get(conn, DISTRICT, 1)
        assert caught.value.reason == "key_shredded"
        with pytest.raises(KeyShredded):
            keys.shred(conn, DISTRICT, 1)
        assert [i.state for i in keys.list(conn)] == [KeyState.SHREDDED, KeyState.ACTIVE]


def test_shred_refuses_the_active_version_and_unknown_versions(engine: Engine) -> None:
    keys = KeyStore(MASTER, shred_grace=0)
    with engine.begin() as conn:
        keys.ensure(conn, DISTRICT)
        with pytest.raises(InputError) as caught:
            keys.shred(conn, DISTRICT, 1)
        assert caught.value.reason == "key_active"
        with pytest.raises(NotFound):
            keys.shred(conn, DISTRICT, 9)
        with pytest.raises(NotFound):
            keys.get(conn, DISTRICT, 9)
        assert keys.current(conn, DISTRICT).version == 1


def test_shred_waits_out_the_grace_after_a_rotation(engine: Engine) -> None:
    keys = KeyStore(MASTER, shred_grace=3600)
    with engine.begin() as conn:
        keys.ensure(conn, DISTRICT)
        keys.rotate(conn, DISTRICT)
        with pytest.raises(InputError) as caught:
            keys.shred(conn, DISTRICT, 1)
        assert caught.value.reason == "key_recently_retired"
    later = KeyStore(MASTER, clock=lambda: datetime.now(UTC).replace(year=2999))
    with engine.begin() as conn:
        later.shred(conn, DISTRICT, 1)
        with pytest.raises(KeyShredded):
            later.get(conn, DISTRICT, 1)


def test_other_process_learns_of_a_shred_within_the_cache_age(engine: Engine) -> None:
    reader = KeyStore(MASTER, max_cache_age=0.5)
    patient = KeyStore(MASTER, max_cache_age=3600)
    admin = KeyStore(MASTER, shred_grace=0)
    with engine.begin() as conn:
        store_message(conn, admin, "m-1", body(1))
    with engine.begin() as conn:
        assert read_message(conn, reader, "m-1") == body(1)  # caches version 1
        assert read_message(conn, patient, "m-1") == body(1)
    shredded_at = time.monotonic()
    with engine.begin() as conn:
        admin.rotate(conn, DISTRICT)
        admin.shred(conn, DISTRICT, 1)
    with engine.begin() as conn:
        # The mechanism is the cache age: a reader told to trust its cache for an hour still
        # reads the shredded version (this is why shred waits out a grace after a rotation).
        assert read_message(conn, patient, "m-1") == body(1)
    deadline = shredded_at + 0.5 + 0.25
    while True:
        with engine.begin() as conn:
            try:
                read_message(conn, reader, "m-1")
            except KeyShredded:
                break
        assert time.monotonic() < deadline, "a stale cached key outlived max_cache_age"
        time.sleep(0.02)


# -- rewrap ------------------------------------------------------------------------------------


def test_rewrap_moves_everything_then_old_version_can_be_shredded(engine: Engine) -> None:
    keys = KeyStore(MASTER, shred_grace=0)
    with engine.begin() as conn:
        for n in range(7):
            store_message(conn, keys, f"m-{n}", body(n))
        keys.rotate(conn, DISTRICT)
        for n in range(7, 9):
            store_message(conn, keys, f"m-{n}", body(n))
        keys.rotate(conn, DISTRICT)
        store_message(conn, keys, "m-9", body(9))
        store_message(conn, keys, "other-1", body(1), district="Skarpnack")
    seen: list[tuple[int, int]] = []
    with engine.begin() as conn:
        moved = keys.rewrap(conn, DISTRICT, batch=4, progress=lambda d, t: seen.append((d, t)))
    assert moved == 9
    assert seen == [(4, 9), (8, 9), (9, 9)]
    with engine.begin() as conn:
        keys.shred(conn, DISTRICT, 1)
        keys.shred(conn, DISTRICT, 2)
    with engine.begin() as conn:
        fresh = KeyStore(MASTER)
        for n in range(10):
            assert read_message(conn, fresh, f"m-{n}") == body(n)
        assert read_message(conn, fresh, "other-1") == body(1)
        versions = conn.execute(
            select(messages.c.key_version).where(messages.c.district == DISTRICT)
        ).scalars()
        assert set(versions) == {3}
        assert keys.rewrap(conn, DISTRICT, batch=4) == 0


def test_rewrap_with_limit_lets_the_caller_commit_between_rounds(engine: Engine) -> None:
    keys = KeyStore(MASTER)
    with engine.begin() as conn:
        for n in range(5):
            store_message(conn, keys, f"m-{n}", body(n))
        keys.rotate(conn, DISTRICT)
    rounds = []
    while True:
        with engine.begin() as conn:
            moved = keys.rewrap(conn, DISTRICT, batch=10, limit=2)
        rounds.append(moved)
        if moved == 0:
            break
    assert rounds == [2, 2, 1, 0]


def test_rewrap_of_unrotated_district_creates_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        assert KeyStore(MASTER).rewrap(conn, "Nowhere", batch=10) == 0
        assert KeyStore(MASTER).list(conn) == []


def test_rewrap_stops_on_a_tampered_payload(engine: Engine) -> None:
    keys = KeyStore(MASTER)
    with engine.begin() as conn:
        store_message(conn, keys, "m-1", body(1))
        conn.execute(update(messages).values(ciphertext=b"\x01" + bytes(40)))
        keys.rotate(conn, DISTRICT)
        with pytest.raises(CryptoError):
            keys.rewrap(conn, DISTRICT, batch=10)


# -- concurrency -------------------------------------------------------------------------------


def _run_threads(count: int, work: Callable[[int], object]) -> list[object]:
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = work(i)
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


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

    results = _run_threads(workers, first_use)
    for index in range(len(districts)):
        per_district = [r[index] for r in results]  # type: ignore[index]
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


def test_unreachable_key_store_is_guard_unavailable(tmp_path: Path) -> None:
    empty = _sqlite_engine(tmp_path / "empty.db")  # no tables: every query fails
    with empty.begin() as conn, pytest.raises(GuardUnavailable):
        KeyStore(MASTER).ensure(conn, DISTRICT)
    empty.dispose()


# -- master key file ---------------------------------------------------------------------------


def test_init_creates_0600_file_even_under_a_lax_umask(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    old = os.umask(0)
    try:
        init_master_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    master: MasterKey = load_master_key(path, None)
    wrapped = master.wrap(bytes(32), b"ctx")
    assert load_master_key(path, None).unwrap(wrapped, b"ctx") == bytes(32)


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    init_master_key(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        init_master_key(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
def test_group_or_other_accessible_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    init_master_key(path)
    path.chmod(mode)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        load_master_key(path, None)


def test_missing_file_is_guard_unavailable(tmp_path: Path) -> None:
    with pytest.raises(GuardUnavailable, match="does not exist"):
        load_master_key(tmp_path / "absent.key", None)


def test_file_with_garbage_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(b"not a key\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError):
        load_master_key(path, None)


def test_init_in_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        init_master_key(tmp_path / "no" / "such" / "master.key")

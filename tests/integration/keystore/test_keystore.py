"""KeyStore against real SQLite files and PostgreSQL: first use, binding, rotate, shred, list.

Re-sealing is in ``test_keystore_rewrap.py``, concurrent transactions in
``test_keystore_concurrency.py``, the master key file in ``test_master_key_file.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from hub.errors import CryptoError, GuardUnavailable, InputError, KeyShredded, NotFound
from hub.keys.store import KeyState, KeyStore, LocalMasterKey
from hub.storage.tables import district_keys, messages
from tests.integration.keystore.keystore_db import (
    DISTRICT,
    MASTER,
    body,
    read_message,
    sqlite_engine,
    store_message,
)

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


def test_unreachable_key_store_is_guard_unavailable(tmp_path: Path) -> None:
    empty = sqlite_engine(tmp_path / "empty.db")  # no tables: every query fails
    with empty.begin() as conn, pytest.raises(GuardUnavailable):
        KeyStore(MASTER).ensure(conn, DISTRICT)
    empty.dispose()

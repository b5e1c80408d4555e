"""KeyStore.rewrap against real SQLite files and PostgreSQL: re-sealing under the active key."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select, update

from hub.errors import CryptoError
from hub.keys.store import KeyStore
from hub.storage.tables import messages
from tests.integration.keystore.keystore_db import (
    DISTRICT,
    MASTER,
    body,
    read_message,
    store_message,
)

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

"""What the agreement store and cache tests share: the example agreement file, and a database
with the contracts tables on a SQLite file, or on PostgreSQL (a schema of its own, dropped
afterwards) when OMSORGSHUB_TEST_POSTGRES_URL is set (``tests/servers.py``: unset skips, a
server that does not answer fails)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from contracts.tables import metadata
from schemas.registry import default_registry
from tests.servers import POSTGRES_ENV, broken, server_url

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "agreement-sodermalm.toml"
TYPES = frozenset(t.name for t in default_registry().types())


@dataclass
class Db:
    engine: Engine
    url: str
    search_path: str  # "" for SQLite


def postgres_db() -> Iterator[Db]:
    url = server_url("PostgreSQL", POSTGRES_ENV, 5432)  # skips only when not configured
    schema = f"contracts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        broken("PostgreSQL", POSTGRES_ENV, url, f"a schema could not be made: {exc.orig}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    metadata.create_all(engine)
    try:
        yield Db(engine, url, schema)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "postgres":
        yield from postgres_db()
        return
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    yield Db(engine, url, "")
    engine.dispose()

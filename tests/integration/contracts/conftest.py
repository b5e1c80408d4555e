"""What the agreement store and cache tests share: the example agreement file, and a database
with the contracts tables on a SQLite file, or on PostgreSQL (a schema of its own, dropped
afterwards: ``postgres_url`` of tests/conftest.py) when OMSORGSHUB_TEST_POSTGRES_URL is set
(``tests/servers.py``: unset skips, a server that does not answer fails)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine

from contracts.tables import metadata
from schemas.registry import default_registry

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "agreement-sodermalm.toml"
TYPES = frozenset(t.name for t in default_registry().types())


@dataclass
class Db:
    engine: Engine
    url: str  # on PostgreSQL, with the test's schema as its search path


def postgres_db(url: str) -> Iterator[Db]:
    """The contracts tables at ``url``, the shared ``postgres_url`` fixture's own schema."""
    engine = create_engine(url)
    metadata.create_all(engine)
    yield Db(engine, url)
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "postgres":
        yield from postgres_db(request.getfixturevalue("postgres_url"))
        return
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = create_engine(url)
    metadata.create_all(engine)
    yield Db(engine, url)
    engine.dispose()

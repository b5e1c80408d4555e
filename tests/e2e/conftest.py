"""Fixtures of the whole-process tests: the processes they start, a destination double, the
hub's data folder and its database as a test reads it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from adapters.doubles.http_double import HttpDouble
from hub.demo.sandbox import Sandbox
from hub.storage.engine import make_engine, reader
from tests.e2e.processes import Processes


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    """Processes started by the test, stopped (or killed) at its end; their logs in tmp_path."""
    with Processes(tmp_path / "logs") as processes:
        yield processes


@pytest.fixture
def double() -> Iterator[HttpDouble]:
    with HttpDouble() as running:
        yield running


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "hub"


@pytest.fixture
def database(home: Path) -> Iterator[Engine]:
    """The hub's database as a test reads it: read-only, never taking SQLite's write lock."""
    engine = make_engine(Sandbox(home).settings().database_url)
    yield reader(engine)
    engine.dispose()

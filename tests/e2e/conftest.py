"""Fixtures of the whole-process tests: the processes they start, and a destination double."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.doubles.http_double import HttpDouble
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

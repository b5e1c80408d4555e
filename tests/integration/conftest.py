"""Fixtures the integration tests share beyond tests/conftest.py: a module's double reset for
each test, and the step-by-step hub of ``tests/integration/spine.py``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.doubles.wsgi_server import ServedDouble
from tests.integration.spine import Spine, close_spine, open_spine


@pytest.fixture
def double(running_double: ServedDouble) -> ServedDouble:
    """The module's double (its own ``running_double`` fixture, started once), reset: nothing
    stored or counted, and ``up``."""
    running_double.reset()
    return running_double


@pytest.fixture
def spine(tmp_path: Path, database_url: str) -> Iterator[Spine]:
    s = open_spine(tmp_path, database_url)
    yield s
    close_spine(s)

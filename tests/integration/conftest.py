"""Fixtures the integration tests share beyond tests/conftest.py: a module's double reset for
each test, the step-by-step hub of ``tests/integration/spine.py``, and the HTTP API of a hub
with default settings with fictional referrals to send to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.doubles.wsgi_server import ServedDouble
from tests.integration.api_server import ApiServer, Referrals, running_api
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


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> Iterator[ApiServer]:
    """The HTTP API of a hub with default settings (a module that needs others overrides it)."""
    with running_api(tmp_path / "home", database_url) as server:
        yield server


@pytest.fixture
def referrals() -> Referrals:
    return Referrals()

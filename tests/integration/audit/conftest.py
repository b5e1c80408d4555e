"""The audit trail tests' trail: over SQLite, and PostgreSQL where reachable
(``audit_setup.open_setup``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.audit.audit_setup import BACKENDS, Setup, open_setup


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    with open_setup(request, tmp_path) as s:
        yield s

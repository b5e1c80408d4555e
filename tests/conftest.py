"""Shared fixtures: databases (SQLite always, PostgreSQL where reachable), RabbitMQ, a whole hub.

PostgreSQL tests get a schema of their own (dropped afterwards), so they can run beside each
other and beside a developer's data in the same database. A server whose URL is unset makes the
tests that need it skip with the reason; a configured server that does not answer fails them
(``tests/servers.py``). CI (.ci/run) starts the servers and sets the URLs, and there any skip
fails the run.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.servers import AMQP_ENV, POSTGRES_ENV, in_ci, server_url


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    return server_url("PostgreSQL", POSTGRES_ENV, 5432)


@pytest.fixture
def postgres_url(postgres_base_url: str) -> Iterator[str]:
    """A URL whose connections use a fresh schema of their own."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_base_url else "?"
    yield f"{postgres_base_url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return server_url("RabbitMQ", AMQP_ENV, 5672)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each integration test that asks for it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI (``CI=true``) a skipped test fails the run: CI configures every server, so a skip
    there can only hide a broken one."""
    report = yield
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every server is configured: {reason}"
    return report

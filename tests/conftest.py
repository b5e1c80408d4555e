"""Shared fixtures: databases (SQLite always, PostgreSQL where reachable), RabbitMQ, a whole hub.

PostgreSQL tests get a schema of their own (dropped afterwards), so they can run beside each
other and beside a developer's data in the same database. Servers that are absent make the
tests that need them skip with the reason; CI (.ci/run) starts them and sets the URLs.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

POSTGRES_ENV = "OMSORGSHUB_TEST_POSTGRES_URL"
AMQP_ENV = "OMSORGSHUB_TEST_AMQP_URL"


def _reachable(url: str, default_port: int) -> str | None:
    parts = urlsplit(url.replace("postgresql+psycopg", "postgresql"))
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc.strerror or exc})"


def _server_url(server: str, env: str, default_port: int) -> str:
    """The URL in ``env``; the test skips, saying why, where it is unset or unreachable."""
    url = os.environ.get(env)
    if not url:
        pytest.skip(f"{server} tests need {env} (set by .ci/run)")
    problem = _reachable(url, default_port)
    if problem:
        pytest.skip(f"{server} at {env}: {problem}")
    return url


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    return _server_url("PostgreSQL", POSTGRES_ENV, 5432)


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
    return _server_url("RabbitMQ", AMQP_ENV, 5672)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each integration test that asks for it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url

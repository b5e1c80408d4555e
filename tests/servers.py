"""Whether a test that needs a server runs, skips or fails: the one rule for every server test.

A test may skip only when its server is **not configured** (its URL variable is unset), and
says so. A configured server that does not answer is a broken environment, not a reason to
skip: the test fails, naming the variable, the URL (password hidden) and what went wrong — a
green run with the PostgreSQL tests quietly skipped would hide every PostgreSQL failure.

In CI (``CI=true``), ``.ci/run`` sets every URL, so an unset one fails too; and
``tests/conftest.py`` turns any skip into a failure there (``skip_fails_in_ci``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_ENV = "OMSORGSHUB_TEST_POSTGRES_URL"
AMQP_ENV = "OMSORGSHUB_TEST_AMQP_URL"
CONNECT_TIMEOUT_SECONDS = 2.0


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def shown(url: str) -> str:
    """The URL with its password replaced, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def unreachable(url: str, default_port: int) -> str | None:
    """Why nothing answers a TCP connect at the URL's host and port, or None when it does."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS):
            return None
    except OSError as exc:
        return f"nothing answers at {host}:{port} ({exc.strerror or exc})"


def not_configured(server: str, env: str, environ: Mapping[str, str] = os.environ) -> None:
    """Skip (or, in CI, fail): ``env`` is unset, so ``server`` tests cannot run here."""
    reason = f"{server} tests need {env} (not configured; .ci/run sets it)"
    if in_ci(environ):
        pytest.fail(f"{reason}: in CI every server must be configured", pytrace=False)
    pytest.skip(reason)


def broken(server: str, env: str, url: str, what: str) -> None:
    """Fail: ``server`` is configured at ``url`` but ``what`` went wrong."""
    pytest.fail(
        f"{server} is configured ({env}={shown(url)}) but {what}. Start the server, or unset "
        f"{env} to skip the {server} tests.",
        pytrace=False,
    )


def server_url(
    server: str, env: str, default_port: int, environ: Mapping[str, str] = os.environ
) -> str:
    """The URL in ``env`` of a server that answers; skip when unset, fail when it is down."""
    url = environ.get(env, "").strip()
    if not url:
        not_configured(server, env, environ)
    problem = unreachable(url, default_port)
    if problem:
        broken(server, env, url, problem)
    return url

"""The rule of ``tests/servers.py``: skip only a server that is not configured; fail one that is
configured and down. Checked on a closed port of 127.0.0.1, on the helper and on a real pytest run
of PostgreSQL tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import POSTGRES_ENV, server_url

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def _outcome(decide: Callable[[], object]) -> BaseException | None:
    """What ``decide`` raised (a skip too: caught here so it cannot skip this test), or None."""
    try:
        decide()
    except (pytest.fail.Exception, pytest.skip.Exception) as exc:
        return exc
    return None


def test_a_configured_server_that_does_not_answer_fails_naming_the_url(closed_port: int) -> None:
    url = f"amqp://guest:secret-word@127.0.0.1:{closed_port}//"
    failed = _outcome(lambda: server_url("RabbitMQ", "SOME_TEST_URL", 5672, {"SOME_TEST_URL": url}))
    assert isinstance(failed, pytest.fail.Exception), f"not a failure: {failed!r}"
    message = str(failed)
    assert f"SOME_TEST_URL=amqp://guest:***@127.0.0.1:{closed_port}//" in message
    assert f"nothing answers at 127.0.0.1:{closed_port}" in message
    assert "secret-word" not in message


def test_an_unset_url_skips_saying_so_and_fails_in_ci() -> None:
    skipped = _outcome(lambda: server_url("RabbitMQ", "SOME_TEST_URL", 5672, {}))
    assert isinstance(skipped, pytest.skip.Exception), f"not a skip: {skipped!r}"
    assert "SOME_TEST_URL (not configured" in str(skipped)
    failed = _outcome(lambda: server_url("RabbitMQ", "SOME_TEST_URL", 5672, {"CI": "true"}))
    assert isinstance(failed, pytest.fail.Exception), f"not a failure: {failed!r}"
    assert "in CI every server must be configured" in str(failed)


def test_a_server_that_answers_gives_its_url(listening_port: int) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{listening_port}/test"
    assert server_url("PostgreSQL", "SOME_TEST_URL", 5432, {"SOME_TEST_URL": url}) == url


def _pytest_run(selection: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A real pytest run of ``selection`` in this repository, with ``env`` only."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsE", *selection],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OMSORGSHUB_") and k != "CI"}


# Three fixtures that reach PostgreSQL by their own ways: the shared one (conftest), the key
# store's and the agreement store's.
POSTGRES_TESTS = [
    "tests/integration/test_audit_postgres.py",
    "tests/integration/keystore/test_keystore.py::test_first_use_creates_version_one_which_other_processes_read[postgresql]",
    "tests/integration/contracts/test_contracts_store.py::test_concurrent_updates_cannot_both_win",
]


def test_a_run_with_postgres_configured_but_down_fails_instead_of_skipping(
    closed_port: int,
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/t"
    done = _pytest_run(POSTGRES_TESTS, _clean_env() | {POSTGRES_ENV: url})
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode != 0, done.stdout
    assert "skipped" not in summary, done.stdout
    for selection in POSTGRES_TESTS:  # each way to PostgreSQL ends in an error naming the URL
        assert f"ERROR {selection.split('::')[0]}" in done.stdout, done.stdout
    assert f"{POSTGRES_ENV}={url}" in done.stdout


def test_a_run_without_postgres_configured_skips_and_in_ci_fails() -> None:
    selection = POSTGRES_TESTS[1:2]
    skipped = _pytest_run(selection, _clean_env())
    assert skipped.returncode == 0, skipped.stdout
    assert "1 skipped" in skipped.stdout
    assert "not configured" in skipped.stdout
    in_ci = _pytest_run(selection, _clean_env() | {"CI": "true"})
    assert in_ci.returncode != 0, in_ci.stdout
    assert "skipped" not in in_ci.stdout.strip().splitlines()[-1], in_ci.stdout

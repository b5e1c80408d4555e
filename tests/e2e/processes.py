"""Whole processes for the end-to-end tests: start, wait for, kill, and show what they said.

Each process starts in a session (process group) of its own with a fresh environment
(``tests/child_python.fresh_env``): the test process's ``OMSORGSHUB_*`` variables are dropped
and only the ones the test passes are set, so a developer's own settings never leak in. Its
stdout and stderr go to one log file under the test's ``tmp_path``. ``kill()`` sends SIGKILL to
the whole group (a Celery worker's main process and its pool children alike), as a crash or an
OOM kill would. When a wait fails, the error
carries the tail of every log; ``Processes`` also prints the tails when it closes, which pytest
shows only for a failed test.

RabbitMQ helpers sit here too: a scratch virtual host per test (``rabbitmqctl``), so tests that
use the fixed queue names of ``worker.py`` cannot take each other's messages, even when two
test runs share the broker. Without ``rabbitmqctl`` (a broker on another host) the URL's own
virtual host is used and the queues are purged before and after the test instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import kombu
import pytest

from adapters.doubles.http_double import HttpDouble
from proof.chaos.processes import group_pids
from tests.child_python import REPO_ROOT

POLL_SECONDS = 0.05


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hub_command(*args: str) -> list[str]:
    """``omsorgshub ARGS`` run by this interpreter (no reliance on a script on PATH)."""
    return [sys.executable, "-m", "hub", *args]


def celery_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", *args]


def in_progress(double: HttpDouble) -> int:
    """Delivery requests the double has received and not answered yet (in slow mode).

    Read in this order it is never more than the truth: a request that is stored or arrives
    between the reads is left out.
    """
    requests = double.requests
    return requests - double.unique - double.duplicates


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)

    def group_pids(self) -> list[int]:
        """Every live process of this process's group (its children included)."""
        return group_pids(self.pid)

    def kill(self) -> None:
        """SIGKILL the whole process group, at once, and reap the leader."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the leader (a Celery worker then stops its own pool); SIGKILL the group if
        it has not ended within ``timeout``."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Children that outlived their leader (or a leader that ignored SIGTERM) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


@dataclass
class Processes:
    """The processes of one test; all stopped (and their log tails printed) on exit."""

    log_dir: Path
    started: list[Process] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path = REPO_ROOT,
    ) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{len(self.started):02d}-{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def report(self, lines: int = 40) -> str:
        parts = []
        for p in self.started:
            state = "running" if p.alive() else f"exited {p.popen.returncode}"
            parts.append(f"--- {p.name} (pid {p.pid}, {state}), last lines of {p.log}:\n")
            parts.append(p.tail(lines) + "\n")
        return "".join(parts)

    def wait_for(
        self,
        what: str,
        condition: Callable[[], bool],
        *,
        timeout: float,
        watch: Sequence[Process] = (),
    ) -> None:
        """Poll ``condition`` until true; fail at the deadline or when a watched process ends."""
        deadline = time.monotonic() + timeout
        while True:
            if condition():
                return
            for p in watch:
                if not p.alive():
                    raise AssertionError(
                        f"{p.name} exited ({p.popen.returncode}) while waiting for {what}\n"
                        + self.report()
                    )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"gave up after {timeout:g} s waiting for {what}\n" + self.report()
                )
            time.sleep(POLL_SECONDS)

    def close(self) -> None:
        for p in self.started:
            p.stop()

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if self.started:
            # Captured output: pytest shows it only when the test failed.
            print(self.report())


def run(
    args: Sequence[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot command to its end; output captured as text."""
    return subprocess.run(
        list(args),
        cwd=REPO_ROOT,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- RabbitMQ -----------------------------------------------------------------------------------


@functools.cache
def rabbitmqctl_missing() -> str | None:
    """Why ``rabbitmqctl`` cannot be used here, or None when it can."""
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed"
    try:
        probe = subprocess.run(
            ["rabbitmqctl", "-q", "list_vhosts"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "rabbitmqctl did not answer within 30 s"
    if probe.returncode != 0:
        return f"rabbitmqctl cannot reach the node: {probe.stderr.strip()[:200]}"
    return None


def require_rabbitmqctl(why: str) -> None:
    """Skip when ``rabbitmqctl`` is not installed (a broker on another host: not configured
    for this test); fail when it is installed but cannot reach the node (broken)."""
    problem = rabbitmqctl_missing()
    if problem is None:
        return
    if shutil.which("rabbitmqctl") is None:
        pytest.skip(f"{why}: {problem}")
    pytest.fail(f"{why}, but {problem}", pytrace=False)


def rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Vhost:
    name: str
    url: str  # amqp_url with this virtual host


@contextlib.contextmanager
def scratch_vhost(amqp_url: str) -> Iterator[Vhost]:
    """A virtual host of this test's own (the URL's user may use it), deleted afterwards."""
    parts = urlsplit(amqp_url)
    user = parts.username or "guest"
    name = f"omsorgshub-test-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        url = urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), "", ""))
        yield Vhost(name, url)
    finally:
        rabbitmqctl("delete_vhost", name)


@dataclass(frozen=True)
class QueueInfo:
    type: str
    messages: int  # ready and unacknowledged, as of the last statistics interval (lags)
    consumers: int
    policy: str
    arguments: str


def list_queues(vhost: str) -> dict[str, QueueInfo]:
    out = rabbitmqctl(
        "list_queues", "-p", vhost, "--no-table-headers", "name", "type", "messages", "consumers",
        "policy", "arguments",
    )  # fmt: skip
    queues = {}
    for line in out.splitlines():
        cells = line.split("\t")
        if len(cells) == 6 and cells[2].isdigit():
            queues[cells[0]] = QueueInfo(cells[1], int(cells[2]), int(cells[3]), *cells[4:])
    return queues


@dataclass(frozen=True)
class Broker:
    url: str
    vhost: str | None  # a scratch virtual host, or None: the shared one of the given URL


@contextlib.contextmanager
def broker_for_test(amqp_url: str, queues: Sequence[kombu.Queue]) -> Iterator[Broker]:
    """A scratch virtual host when ``rabbitmqctl`` can make one, else ``queues`` purged."""
    if rabbitmqctl_missing() is None:
        with scratch_vhost(amqp_url) as vhost:
            yield Broker(vhost.url, vhost.name)
        return
    _purge(amqp_url, queues)
    try:
        yield Broker(amqp_url, None)
    finally:
        _purge(amqp_url, queues)


def _purge(url: str, queues: Sequence[kombu.Queue]) -> None:
    with kombu.Connection(url) as conn:
        for queue in queues:
            bound = queue(conn.default_channel)
            bound.declare()
            bound.purge()


def queue_counts(url: str, name: str) -> tuple[int, int]:
    """``(ready messages, consumers)`` of a queue, from a passive declare (0, 0 if absent).

    Unlike ``rabbitmqctl list_queues``, whose numbers lag by the statistics interval, this is
    the queue's own answer at this moment. Unacknowledged messages are not counted as ready.
    """
    with kombu.Connection(url) as conn:
        try:
            # kombu returns amqp's queue_declare_ok_t here (its stubs say str).
            ok: Any = kombu.Queue(name)(conn.default_channel).queue_declare(passive=True)
        except conn.channel_errors:  # 404: not declared (yet)
            return 0, 0
        return int(ok.message_count), int(ok.consumer_count)

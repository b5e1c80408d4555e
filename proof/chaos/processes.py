"""The hub's processes under a chaos run: started, SIGKILLed, started again, stopped.

Each process runs in a session of its own, so ``kill()`` reaches a Celery worker's pool children
too, as an OOM kill or a crash of the machine's process would; every start appends to the same
log file. Processes are started through ``proof.chaos.clocked`` so the clock-step fault can move
their clock (and only theirs). Every process is stopped by its own id when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import REPO_ROOT

START_TIMEOUT = 120.0


class ProcessFailed(RuntimeError):
    """A hub process did not come up, or died when it should not have."""


@dataclass
class Supervised:
    """One hub process (serve, relay or a Celery worker) that may be killed and started again."""

    name: str
    args: Sequence[str]  # after ``python -m proof.chaos.clocked``
    env: Mapping[str, str]
    log: Path
    ready: Callable[[], bool] = field(default=lambda: True)
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        command = [sys.executable, "-m", "proof.chaos.clocked", *self.args]
        with self.log.open("ab") as out:
            out.write(f"\n=== start {self.starts + 1}: {' '.join(self.args)}\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                command, cwd=REPO_ROOT, env=dict(self.env), stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.starts += 1

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if not self.alive():
                raise ProcessFailed(f"{self.name} exited while starting:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise ProcessFailed(f"{self.name} not ready after {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole session at once and reap the leader."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM, then SIGKILL of the session after ``grace`` seconds (children too)."""
        if self.popen is None:
            return
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace)
        self.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

"""The hub's processes under a chaos run: started, SIGKILLed, started again, stopped.

Each process runs in a session of its own, so ``kill()`` reaches a Celery worker's pool children
too, as an OOM kill or a crash of the machine's process would; every start appends to the same
log file. Processes are started through ``proof.chaos.clocked`` so the clock-step fault can move
their clock (and only theirs; ``proof.chaos.stepper``). Every process is stopped by its own id
when the run ends, and what libfaketime left in /dev/shm for its pids is removed.
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
from proof.chaos import faketime

START_TIMEOUT = 120.0


def group_pids(leader: int) -> list[int]:
    """Every live process of the group ``leader`` started (a Celery worker and its pool)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == leader:
            pids.append(int(entry.name))
    return sorted(pids)


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
        if self.popen is not None:  # the one before, killed or dead by itself
            faketime.remove_shared_memory([self.popen.pid])
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
        pids = group_pids(self.popen.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        faketime.remove_shared_memory([self.popen.pid, *pids])

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

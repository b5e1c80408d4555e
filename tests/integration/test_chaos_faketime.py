"""The chaos run's clock-step reaches the system clock of a real process (issue 17 §1).

A child is started exactly as the chaos run starts serve, relay and the Celery worker (through
``proof.chaos.clocked``, with the environment ``ClockStepper`` gives a hub process), libfaketime
preloaded. Writing +600 to the run's offset file moves the child's ``time.time()``,
``datetime.now()`` and SQLite's ``CURRENT_TIMESTAMP`` by 600 s at once, -600 by as far back,
while its monotonic clock runs on untouched and ``time.sleep`` still sleeps (libfaketime 0.9.10
breaks it; the launcher mends it). Skipped only where libfaketime is not installed.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.processes import REPO_ROOT
from proof.chaos import faketime
from proof.chaos.processes import group_pids
from proof.chaos.stepper import ClockStepper

STEP = 600.0
PAUSED = "import signal, time; time.time(); print(1, flush=True); signal.pause()"
SLACK = 2.0  # seconds between the probe's reading and ours on a loaded machine


@pytest.fixture
def stepper(tmp_path: Path) -> ClockStepper:
    if faketime.find_library() is None:
        pytest.skip(f"libfaketime is not installed ({faketime.INSTALL_HINT})")
    return ClockStepper.choose("system", tmp_path)


@pytest.fixture
def probe(stepper: ClockStepper) -> Iterator[subprocess.Popen[str]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "proof.chaos.clocked", "tests.integration.clock_probe"],
        cwd=REPO_ROOT, env=stepper.env(os.environ, "probe"), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        yield child
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have died (the planted fault)
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        faketime.remove_shared_memory([child.pid])


def _ask(child: subprocess.Popen[str]) -> dict[str, float]:
    assert child.stdin is not None
    assert child.stdout is not None
    child.stdin.write("?\n")
    child.stdin.flush()
    line = child.stdout.readline()
    assert line, f"the probe died (exit {child.poll()})"
    return dict(json.loads(line))


def _offset(seen: dict[str, float], clock: str) -> float:
    return seen[clock] - time.time()


@pytest.mark.parametrize("clock", ["time", "datetime", "sqlite"])
def test_the_step_moves_the_wall_clock_of_a_preloaded_process_and_not_its_monotonic(
    stepper: ClockStepper, probe: subprocess.Popen[str], clock: str
) -> None:
    start = _ask(probe)
    assert abs(_offset(start, clock)) < SLACK  # +0: the real time
    stepper.step(STEP, ["probe"])
    ahead = _ask(probe)
    assert abs(_offset(ahead, clock) - STEP) < SLACK, ahead
    stepper.step(-STEP, ["probe"])
    behind = _ask(probe)
    assert abs(_offset(behind, clock) + STEP) < SLACK, behind
    stepper.step(0, ["probe"])
    back = _ask(probe)
    assert abs(_offset(back, clock)) < SLACK, back
    # Monotonic time never jumps (a real step leaves it alone), and sleeping still works.
    readings = [start, ahead, behind, back]
    for earlier, later in itertools.pairwise(readings):
        assert 0 <= later["monotonic"] - earlier["monotonic"] < SLACK
    assert all(0.04 < seen["slept"] < SLACK for seen in readings)


def test_the_report_names_the_stepped_processes_and_libfaketime_is_loaded_in_them(
    stepper: ClockStepper, probe: subprocess.Popen[str]
) -> None:
    _ask(probe)  # running
    assert stepper.library is not None
    assert faketime.preloaded(probe.pid, stepper.library)
    assert group_pids(probe.pid) == [probe.pid]


def test_what_libfaketime_leaves_in_dev_shm_after_a_kill_is_removed(
    stepper: ClockStepper, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSED], env=stepper.env(os.environ, "probe"),
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline()
    leftovers = [
        faketime.SHM / f"faketime_shm_{child.pid}",
        faketime.SHM / f"sem.faketime_sem_{child.pid}",
    ]
    assert all(path.exists() for path in leftovers)  # libfaketime 0.9.10 makes them per process
    os.killpg(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert all(path.exists() for path in leftovers)  # a SIGKILL leaves them behind
    faketime.remove_shared_memory([child.pid])
    assert not any(path.exists() for path in leftovers)

"""Stepping the system clock that the hub's processes see, and only theirs: libfaketime.

The machine's clock is shared (PostgreSQL, RabbitMQ, other people's work) and is never touched.
Instead each hub process (serve, relay, the Celery worker and its pool children) is started with
libfaketime preloaded (``LD_PRELOAD``), which answers the process's ``clock_gettime``,
``gettimeofday`` and ``time`` calls with the real time plus the offset written in its timestamp
file (``FAKETIME_TIMESTAMP_FILE``, read again on every call: ``FAKETIME_NO_CACHE=1``). So
``time.time()``, ``datetime.now()``, SQLite's ``CURRENT_TIMESTAMP``, logging, uvicorn, httpx,
Celery and kombu all see the step, as they would see ``date -s`` or an NTP step.

Only the wall clock (``CLOCK_REALTIME``) is stepped: ``FAKETIME_DONT_FAKE_MONOTONIC=1``. A real
step of the system clock never moves ``CLOCK_MONOTONIC`` (that is what it is for), so faking it
would test something that cannot happen; and with it faked, libfaketime 0.9.10 makes every
Python wait with a timeout (``threading.Event.wait``, ``queue.get(timeout=…)``) hang for good
(libfaketime issue #390; measured here). Leaving monotonic alone trips another bug of 0.9.10
(issue #426): ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``, which Python 3.11's
``time.sleep`` uses, fails with EINVAL. ``proof.chaos.clocked`` detects that at start and makes
``time.sleep`` a relative sleep of the same length (see ``sleep_without_deadline``).

libfaketime is a C library that no Python package does better (the ``libfaketime`` wheel on
PyPI ships the same 0.9.10 code with the same bugs): the Debian package ``faketime``.
"""

from __future__ import annotations

import contextlib
import os
import select
import sysconfig
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import SupportsIndex

LIBRARY_ENV = "PROOF_LIBFAKETIME"  # a libfaketime.so.1 elsewhere than Debian puts it
LIBRARY_NAME = "libfaketime.so.1"
INSTALL_HINT = "apt-get install faketime (Debian), or PROOF_LIBFAKETIME=/path/to/libfaketime.so.1"
SHM = Path("/dev/shm")  # noqa: S108 - glibc's POSIX shared memory (named files only)


def library_candidates() -> list[Path]:
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    return [
        Path(f"/usr/lib/{multiarch}/faketime/{LIBRARY_NAME}"),
        Path(f"/usr/lib/faketime/{LIBRARY_NAME}"),
        Path(f"/usr/local/lib/faketime/{LIBRARY_NAME}"),
    ]


def find_library(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The libfaketime to preload: ``PROOF_LIBFAKETIME`` if set, else where packages put it."""
    named = environ.get(LIBRARY_ENV)
    if named:
        return Path(named) if Path(named).is_file() else None
    return next((path for path in library_candidates() if path.is_file()), None)


def preload_env(library: Path, timestamp_file: Path, env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for a process whose wall clock follows ``timestamp_file`` (see the module)."""
    out = {k: v for k, v in env.items() if k not in ("FAKETIME", "FAKETIME_SHARED")}
    preload = [str(library), *filter(None, env.get("LD_PRELOAD", "").split(":"))]
    out |= {
        "LD_PRELOAD": ":".join(preload),
        "FAKETIME_TIMESTAMP_FILE": str(timestamp_file),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    return out


def offset_text(seconds: float) -> str:
    """libfaketime's relative offset: ``+600``, ``-600``, ``+0`` (a float reads it too)."""
    return f"{seconds:+g}"


def write_offset(path: Path, seconds: float) -> None:
    """Replace the file at once, so no reader ever sees it empty or half written."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(offset_text(seconds) + "\n")
    os.replace(partial, path)


def preloaded(pid: int, library: Path) -> bool:
    """Whether the process has the library mapped (so the step reaches its clock)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False
    return str(library) in maps or str(library.resolve()) in maps


def remove_shared_memory(pids: Iterable[int]) -> None:
    """libfaketime makes a semaphore and a shared-memory object per process and removes them at
    a clean exit, which a SIGKILL (and, as measured, Python's own exit) never reaches: remove
    those of these processes, ours, once they are gone."""
    for pid in pids:
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            with contextlib.suppress(OSError):
                (SHM / name).unlink()


def sleep_without_deadline(secs: float | SupportsIndex, /) -> None:
    """``time.sleep`` for a process under libfaketime 0.9.10 (issue #426): the same wait on the
    monotonic clock, given to the kernel as a relative timeout (select retries it after a
    signal with the time left, PEP 475), not as the absolute deadline that libfaketime
    mistranslates."""
    seconds = float(secs)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


def sleep_is_broken() -> bool:
    try:
        time.sleep(0.0001)
    except OSError:
        return True
    return False

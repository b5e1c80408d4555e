"""``python -m proof.chaos.clocked MODULE [ARGS...]``: run a hub process with a clock that the
chaos run can step.

Two ways, chosen by the environment the chaos run gives the process:

- **The system clock** (``FAKETIME_TIMESTAMP_FILE``, libfaketime preloaded;
  ``proof.chaos.faketime``): everything in the process sees the step. The launcher only mends
  ``time.sleep`` where libfaketime 0.9.10 breaks it (EINVAL), and changes nothing else.
- **The hub's clock only** (``PROOF_CLOCK_OFFSET_FILE``), the fallback where libfaketime is
  missing, and then the run's report says so: only what the hub stamps moves; ``time.time()``,
  SQLite, Celery and every library see the real clock.

The hub reads the time through one clock, which ``hub.bootstrap.build_hub`` hands to every part
(ingest, outbox, leases, keys, tokens, the audit trail). This launcher makes that clock's
default read ``datetime.now(UTC)`` plus the offset in seconds written in the file named by
``PROOF_CLOCK_OFFSET_FILE`` (re-read at most every 0.1 s), then runs MODULE as ``__main__``
(``hub serve``, ``hub relay``, ``celery -A worker worker``). Only processes started by ``python
-m proof chaos`` go through it; the machine's clock is never touched. Without the variable the
process runs exactly as it would without the launcher.
"""

from __future__ import annotations

import os
import runpy
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from proof.chaos import faketime

OFFSET_ENV = "PROOF_CLOCK_OFFSET_FILE"
REREAD_SECONDS = 0.1


class SteppedClock:
    """The wall clock plus an offset read from a file (a missing or empty file is 0)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._read_at = float("-inf")

    def offset(self) -> timedelta:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= REREAD_SECONDS:
                self._read_at = now
                try:
                    text = self._path.read_text().strip()
                    self._offset = timedelta(seconds=float(text or 0))
                except (OSError, ValueError):
                    pass  # keep the last good offset while the file is being rewritten
            return self._offset

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset()


def install(path: Path) -> None:
    """Make ``build_hub``'s default clock a stepped one (the hub's processes call it without
    a clock)."""
    import hub.bootstrap

    defaults = hub.bootstrap.build_hub.__kwdefaults__
    if defaults is None or "clock" not in defaults:
        raise RuntimeError("hub.bootstrap.build_hub no longer takes a keyword-only clock")
    defaults["clock"] = SteppedClock(path)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m proof.chaos.clocked MODULE [ARGS...]")
    offset_file = os.environ.get(OFFSET_ENV)
    if offset_file:
        install(Path(offset_file))
    if os.environ.get("FAKETIME_TIMESTAMP_FILE") and faketime.sleep_is_broken():
        time.sleep = faketime.sleep_without_deadline  # before MODULE imports anything
    module = sys.argv[1]
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()

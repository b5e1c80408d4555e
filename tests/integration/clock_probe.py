"""A process for ``test_chaos_faketime``: started like a hub process (``python -m
proof.chaos.clocked tests.integration.clock_probe``), it answers each line on stdin with what
its clocks say, as JSON on one line: ``time.time()``, ``datetime.now()``, SQLite's
``CURRENT_TIMESTAMP``, ``time.monotonic()``, and how long a ``time.sleep(0.05)`` took."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from datetime import UTC, datetime


def answer(db: sqlite3.Connection) -> dict[str, float]:
    before = time.monotonic()
    time.sleep(0.05)
    slept = time.monotonic() - before
    (stamp,) = db.execute("SELECT CURRENT_TIMESTAMP").fetchone()
    sqlite_now = datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()
    return {
        "time": time.time(),
        "datetime": datetime.now(UTC).timestamp(),
        "sqlite": sqlite_now,
        "monotonic": time.monotonic(),
        "slept": slept,
    }


def main() -> None:
    db = sqlite3.connect(":memory:")
    for _line in sys.stdin:
        print(json.dumps(answer(db)), flush=True)


if __name__ == "__main__":
    main()

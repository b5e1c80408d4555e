"""The query planner's statistics on SQLite: ``ANALYZE``, sampled, on the relay's timer.

SQLite chooses among indexes by rules of thumb until ``ANALYZE`` has given it statistics, and
without them it chose badly as soon as the tables grew: at 300,000 messages the console's
"one type, delivered, last 7 days" search took 5.5 s instead of 7 ms, and the overview's
scoped "retrying" count 134 ms instead of 8 ms, because a covering index that matched one
column looked better than the index that matched three (``bench console-search``). Nothing
in SQLite refreshes statistics by itself, so the hub does: ``PRAGMA analysis_limit`` makes
``ANALYZE`` read a sample of each index instead of all of it (SQLite's own advice for
applications), which keeps it to milliseconds at a million messages and safe to run hourly.
PostgreSQL's autovacuum analyzes by itself; nothing is done there.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

ANALYSIS_LIMIT = 1000  # rows sampled per index (SQLite suggests 100-1000)


def refresh_statistics(engine: Engine) -> bool:
    """Refresh the planner's statistics where the hub must (SQLite); True if it did."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.begin() as conn:
        conn.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
        conn.execute(text("ANALYZE"))
    return True

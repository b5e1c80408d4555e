"""The query planner's statistics on SQLite: ``ANALYZE``, sampled, on the relay's timer.

SQLite chooses among indexes by rules of thumb until ``ANALYZE`` has given it statistics, and
without them it chose badly as soon as the tables grew: at 300,000 messages the console's
"one type, delivered, last 7 days" search took 5.5 s instead of 7 ms, and the overview's
scoped "retrying" count 134 ms instead of 8 ms, because a covering index that matched one
column looked better than the index that matched three (``bench console-search``). Nothing
in SQLite refreshes statistics by itself, so the hub does. A full ``ANALYZE`` reads every
index: 1.5 s at a million messages, holding the write lock. ``PRAGMA analysis_limit`` makes it
read a sample of each index instead; SQLite suggests 100-1000 rows, but at a million messages
1,000 gave estimates that sent the scoped count back to the wrong index (141 ms), while 20,000
gives the right plans everywhere the console asks (15 ms) in 0.05 s.
PostgreSQL's autovacuum analyzes by itself; nothing is done there.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

ANALYSIS_LIMIT = 20_000  # rows sampled per index (see above)


def refresh_statistics(engine: Engine) -> bool:
    """Refresh the planner's statistics where the hub must (SQLite); True if it did."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.begin() as conn:
        conn.execute(text(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}"))
        conn.execute(text("ANALYZE"))
    return True

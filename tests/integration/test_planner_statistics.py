"""The query planner's statistics (``hub.storage.planner``, scheduled by ``hub.services.upkeep``).

Without ``ANALYZE`` SQLite picked a covering index of one matching column over one matching
three, and the console's 7-day search took seconds at 300,000 messages (``bench
console-search``). What is proven here: ``serve``'s upkeep refreshes the statistics at once and
on the relay's timer, on SQLite only; with the setting at 0 it never does; and with statistics
the planner takes the index that matches the scoped "retrying" count's three columns.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from hub.services.upkeep import schedule_upkeep
from hub.storage.planner import refresh_statistics
from tests.integration.spine import close_spine, open_spine

SCOPED_RETRYING = (
    "EXPLAIN QUERY PLAN SELECT count(*), min(created_at) FROM deliveries "
    "WHERE state = 'retrying' AND destination = 'd1' AND district IN ('sdn-a')"
)


def _statistics_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        exists = conn.execute(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ).scalar_one()
        if not exists:
            return 0
        return int(conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar_one())


def test_upkeep_analyzes_sqlite_at_start_and_on_the_relay_timer(tmp_path: Path) -> None:
    spine = open_spine(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        overrides={"planner_statistics_seconds": "0.001"},  # the timer upkeep registers, soon
    )
    try:
        engine = spine.hub.engine
        assert _statistics_rows(engine) == 0  # a new database has none
        schedule_upkeep(spine.hub)
        assert _statistics_rows(engine) > 0  # at start
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM sqlite_stat1"))
        for _ in range(200):  # the timer's run (the relay's own thread is not started here)
            spine.hub.relay.run_once()
            if _statistics_rows(engine):
                break
            threading.Event().wait(0.005)
        assert _statistics_rows(engine) > 0
    finally:
        close_spine(spine)


def test_no_statistics_when_the_setting_is_zero(tmp_path: Path) -> None:
    spine = open_spine(
        tmp_path,
        f"sqlite:///{tmp_path / 'hub.db'}",
        overrides={"planner_statistics_seconds": "0"},
    )
    try:
        schedule_upkeep(spine.hub)
        assert _statistics_rows(spine.hub.engine) == 0
    finally:
        close_spine(spine)


def test_postgresql_is_left_to_autovacuum(tmp_path: Path, postgres_url: str) -> None:
    spine = open_spine(tmp_path, postgres_url)
    try:
        assert refresh_statistics(spine.hub.engine) is False
        schedule_upkeep(spine.hub)  # and serve's upkeep starts all the same
    finally:
        close_spine(spine)


def test_with_statistics_the_scoped_count_seeks_all_three_columns(tmp_path: Path) -> None:
    spine = open_spine(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        engine = spine.hub.engine
        now = spine.hub.clock()
        rows = [
            {
                "id": f"m{i}", "d": f"d{i % 4}", "district": f"sdn-{'abc'[i % 3]}",
                "state": "retrying" if i % 200 == 0 else "delivered",
                "at": (now - timedelta(seconds=i)).isoformat(),
            }
            for i in range(6000)
        ]  # fmt: skip
        # Deliveries without their messages: only the plan is asked, so a plain connection
        # (foreign keys off, SQLite's default) writes them.
        with closing(sqlite3.connect(tmp_path / "hub.db")) as raw, raw:
            raw.executemany(
                "INSERT INTO deliveries (id, message_id, destination, state, attempts, claim, "
                "next_attempt_at, created_at, updated_at, district) VALUES (:id, :id, :d, "
                ":state, 1, 1, :at, :at, :at, :district)",
                rows,
            )
        refresh_statistics(engine)
        with engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.execute(text(SCOPED_RETRYING)))
        assert "ix_deliveries_scope (state=? AND district=? AND destination=?)" in plan, plan
    finally:
        close_spine(spine)

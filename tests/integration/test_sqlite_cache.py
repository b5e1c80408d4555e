"""The ``sqlite_cache_mib`` setting reaches every SQLite connection as ``PRAGMA cache_size``
(``hub.storage.engine``); without it SQLite keeps its own default."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from hub.settings import load_settings
from hub.storage.engine import make_engine, reader

SQLITE_DEFAULT_KIB = 2000  # SQLite's compiled-in default: cache_size=-2000


def _cache_size(engine_url: str, cache_mib: int | None) -> list[int]:
    engine = make_engine(engine_url, sqlite_cache_mib=cache_mib)
    try:
        with engine.connect() as first, reader(engine).connect() as second:
            return [
                int(conn.execute(text("PRAGMA cache_size")).scalar_one())
                for conn in (first, second)
            ]
    finally:
        engine.dispose()


def test_the_setting_sizes_every_connections_cache_in_kib(tmp_path: Path) -> None:
    assert _cache_size(f"sqlite:///{tmp_path / 'hub.db'}", 64) == [-64 * 1024] * 2


def test_without_the_setting_sqlite_keeps_its_default(tmp_path: Path) -> None:
    assert _cache_size(f"sqlite:///{tmp_path / 'hub.db'}", None) == [-SQLITE_DEFAULT_KIB] * 2


def test_the_variable_is_read_as_mib(tmp_path: Path) -> None:
    settings = load_settings({"OMSORGSHUB_SQLITE_CACHE_MIB": "16"}, cwd=tmp_path)
    assert settings.sqlite_cache_mib == 16

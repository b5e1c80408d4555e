"""The Alembic migrations create exactly the tables the code declares, on both databases."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import tomllib
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy import MetaData, text

from audit.tables import metadata as audit_metadata
from contracts.tables import metadata as contracts_metadata
from hub.cli.main import cli
from hub.storage.engine import make_engine
from hub.storage.migrate import current_revision, head_revision, upgrade
from hub.storage.tables import metadata as hub_metadata
from tests.child_python import fresh_env, run_module


def _all_tables() -> MetaData:
    combined = MetaData()
    for metadata in (hub_metadata, audit_metadata, contracts_metadata):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


def test_upgrade_reaches_head_and_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)  # running it again changes nothing
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, _all_tables())
        assert diff == [], f"the models and the migrations differ: {diff}"
    finally:
        engine.dispose()


REPO = Path(__file__).resolve().parents[2]
VERSIONS = REPO / "hub" / "storage" / "migrations" / "versions"


def _shipped() -> dict[str, str | None]:
    """Revision -> parent, as written in the migration files themselves (not asked of Alembic)."""
    found: dict[str, str | None] = {}
    for path in VERSIONS.glob("*.py"):
        source = path.read_text()
        revision = re.search(r'^revision: str = "([^"]+)"', source, re.MULTILINE)
        parent = re.search(r'^down_revision: .* = "([^"]+)"', source, re.MULTILINE)
        if revision:
            found[revision.group(1)] = parent.group(1) if parent else None
    return found


def _shipped_revisions() -> set[str]:
    return set(_shipped())


def _shipped_head() -> str:
    (head,) = _shipped_revisions() - set(_shipped().values())
    return head


def _omsorgshub(home: Path, url: str, *args: str) -> Result:
    env = {"OMSORGSHUB_HOME": str(home), "OMSORGSHUB_DATABASE_URL": url}
    return CliRunner().invoke(cli, list(args), env=env)


def test_db_history_lists_every_shipped_migration(tmp_path: Path) -> None:
    result = _omsorgshub(
        tmp_path / "nohub", "sqlite:///" + str(tmp_path / "none.db"), "db", "history"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert {
        line.split(" -> ")[1].split(" ")[0].rstrip(",") for line in lines
    } == _shipped_revisions()
    assert [line for line in lines if "(head)" in line] == [
        next(line for line in lines if f"-> {_shipped_head()} (head)" in line)
    ]
    assert lines[-1].startswith("<base> -> ")
    assert not (tmp_path / "none.db").exists()


def test_db_current_follows_the_schema(database_url: str, tmp_path: Path) -> None:
    home = tmp_path / "h"
    before = _omsorgshub(home, database_url, "db", "current", "--check")
    assert before.exit_code == 1, before.output
    assert "omsorgshub init" in before.output or "no schema yet" in before.output
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "hub.db").exists(), "db current must not create the database"

    assert _omsorgshub(home, database_url, "db", "upgrade").exit_code == 0
    head = _shipped_head()
    after = _omsorgshub(home, database_url, "db", "current", "--check")
    assert after.exit_code == 0, after.output
    assert after.output.strip() == f"database at revision {head} (head)"

    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    newer = _omsorgshub(home, database_url, "db", "current", "--check")
    assert newer.exit_code == 1
    assert "f00d, which this hub does not know" in newer.output


def test_db_current_names_an_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql+psycopg://hub:s3cret@127.0.0.1:9/hub"  # port 9 (discard): nothing listens
    result = _omsorgshub(tmp_path, url, "db", "current")
    assert result.exit_code == 1
    assert result.output.startswith("error: storage_unavailable: the database cannot be reached")
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


def _alembic(*args: str, home: Path, url: str | None = None) -> subprocess.CompletedProcess[str]:
    settings = {"OMSORGSHUB_HOME": str(home)}
    if url:
        settings["OMSORGSHUB_DATABASE_URL"] = url
    return run_module("alembic", *args, env=fresh_env(settings), timeout=120)


def test_alembic_by_hand_from_the_repository_root(database_url: str, tmp_path: Path) -> None:
    """alembic.ini finds the migrations and takes the database from the hub's settings."""
    history = _alembic("history", home=tmp_path / "h")
    assert history.returncode == 0, history.stderr
    assert {
        line.split(" -> ")[1].split(" ")[0].rstrip(",") for line in history.stdout.splitlines()
    } == (_shipped_revisions())

    engine = make_engine(database_url)
    upgrade(engine)
    head = current_revision(engine)
    engine.dispose()
    current = _alembic("current", home=tmp_path / "h", url=database_url)
    assert current.returncode == 0, current.stderr
    assert current.stdout.strip() == f"{head} (head)"


def test_alembic_by_hand_says_plainly_what_is_wrong(tmp_path: Path) -> None:
    nohub = _alembic("current", home=tmp_path / "nohub", url=None)
    assert nohub.returncode != 0
    assert "no hub here? `omsorgshub init` creates one" in nohub.stderr
    assert "Traceback" not in nohub.stderr


def test_the_migrations_ship_as_package_data() -> None:
    """An installed hub has no checkout: every migration file must be in the package data."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["hub"]
    hub_dir = REPO / "hub"
    migrations = hub_dir / "storage" / "migrations"
    files = [p for p in migrations.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files
    for path in files:
        relative = path.relative_to(hub_dir).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative

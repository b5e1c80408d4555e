"""``omsorgshub db upgrade|current|history``: Alembic migrations run from the package.

The configuration is built in code from the package's own ``migrations`` folder, so an installed
hub (no checkout, no alembic.ini) finds its migrations; ``alembic.ini`` at the repository root
points at the same folder for developers who run ``alembic`` by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import GuardUnavailable
from hub.storage.engine import is_sqlite, make_engine

_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return _scripts().get_current_head()


@dataclass(frozen=True)
class Revision:
    """One migration as ``db history`` lists it."""

    revision: str
    down_revision: str | None
    message: str
    is_head: bool


def history() -> list[Revision]:
    """Every migration, newest first. Read from the package: no database is needed."""
    out = []
    for script in _scripts().walk_revisions():
        down = script.down_revision
        if isinstance(down, tuple | list):  # a merge point: several parents
            down = ", ".join(down)
        out.append(Revision(script.revision, down, script.doc or "", script.is_head))
    return out


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands against the migrations this hub ships."""

    exists: bool  # False: an SQLite file that is not there yet (nothing was created to look)
    current: str | None  # None: no schema (never migrated)
    head: str | None

    @property
    def at_head(self) -> bool:
        return self.exists and self.current == self.head

    @property
    def known(self) -> bool:
        """False when the database is at a revision this hub has no migration for."""
        return self.current is None or self.current in {r.revision for r in history()}


def schema_state(url: str) -> SchemaState:
    """The database's revision without changing anything (not even creating an SQLite file).

    Raises ``GuardUnavailable`` (reason ``storage_unavailable``) when it cannot be reached.
    """
    head = head_revision()
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).is_file():
            return SchemaState(exists=False, current=None, head=head)
    engine = make_engine(url, pool_size=1)
    try:
        return SchemaState(exists=True, current=current_revision(engine), head=head)
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise GuardUnavailable(
            f"the database cannot be reached: {cause}", reason="storage_unavailable"
        ) from exc
    finally:
        engine.dispose()


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))

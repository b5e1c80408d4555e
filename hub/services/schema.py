"""The database schema as an operator manages it: upgrade, where it stands, what ships.

Alembic does the work (``hub.storage.migrate``); this is the use case the ``db`` commands call,
so the command line opens no engine of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.settings import Settings
from hub.storage.engine import make_engine
from hub.storage.migrate import (
    Revision,
    SchemaState,
    current_revision,
    history,
    schema_state,
    upgrade,
)

__all__ = ["Revision", "SchemaState", "shipped_revisions", "state", "upgrade_schema"]


def upgrade_schema(settings: Settings) -> str | None:
    """Apply the migrations up to the newest (safe to run again); returns the revision now."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        return current_revision(engine)
    finally:
        engine.dispose()


def state(settings: Settings) -> SchemaState:
    """Where the database's schema stands against the newest this hub ships (changes nothing)."""
    return schema_state(settings.database_url)


def shipped_revisions() -> Sequence[Revision]:
    """The migrations this hub ships, newest first (needs no database)."""
    return history()

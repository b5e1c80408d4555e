"""The Alembic migrations create exactly the tables the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData

from audit.tables import metadata as audit_metadata
from contracts.tables import metadata as contracts_metadata
from hub.storage.engine import make_engine
from hub.storage.migrate import current_revision, head_revision, upgrade
from hub.storage.tables import metadata as hub_metadata


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

"""Alembic environment: one migration history for the hub's, the audit's and the agreements'
tables (each package owns its ``MetaData``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from audit.tables import metadata as audit_metadata
from contracts.tables import metadata as contracts_metadata
from hub.storage.engine import make_engine
from hub.storage.tables import metadata as hub_metadata

target_metadata = [hub_metadata, audit_metadata, contracts_metadata]


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()

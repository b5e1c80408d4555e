"""Alembic environment: one migration history for the hub's, the audit's and the agreements'
tables (each package owns its ``MetaData``).

Which database, first found wins: the connection ``hub.storage.migrate`` hands over (``omsorgshub
db ...``), ``alembic -x url=...``, ``sqlalchemy.url`` in the configuration, and otherwise the
hub's own ``database_url`` (``OMSORGSHUB_*`` variables and the settings file), so ``alembic
current`` at the repository root looks at the same database as ``omsorgshub db current``.
"""

from __future__ import annotations

import logging.config

from alembic import context
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from audit.tables import metadata as audit_metadata
from contracts.tables import metadata as contracts_metadata
from hub.errors import ConfigError
from hub.settings import load_settings
from hub.storage.engine import is_sqlite, make_engine
from hub.storage.tables import metadata as hub_metadata

target_metadata = [hub_metadata, audit_metadata, contracts_metadata]


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    try:
        return load_settings().database_url
    except ConfigError as exc:  # alembic prints a CommandError as one line, not a traceback
        raise CommandError(str(exc)) from exc


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: the SQL for a database administrator to review and run."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=is_sqlite(url),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = _url()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    except OperationalError as exc:  # cannot connect: one line, not a driver traceback
        shown = make_url(url).render_as_string(hide_password=True)
        cause = str(exc.orig).strip().splitlines()[0]
        hint = " (no hub here? `omsorgshub init` creates one)" if is_sqlite(url) else ""
        raise CommandError(f"cannot open the database {shown}: {cause}{hint}") from exc
    finally:
        engine.dispose()


if context.config.config_file_name is not None:  # `alembic ...` with alembic.ini, by hand
    logging.config.fileConfig(context.config.config_file_name, disable_existing_loggers=False)
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""The agreement store's tables (SQLAlchemy Core), with their own ``metadata``.

``agreement_versions`` is append-only: every change to an agreement (new, amended, revoked) is a
new row, so the store is its own record of processing agreements over time (GDPR art. 30) and
a message's ``agreement_ref`` ("id@version") always names the exact text that let it through.
Rows are never updated or deleted.

``agreement_generation`` has one row whose counter every change increments in the same
transaction. Caches in other processes compare it to notice a change cheaply (one indexed read
of one row) instead of reloading agreements. ``metadata.create_all`` inserts that row; a
migration that creates the table must insert ``(id=1, generation=0)`` itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    event,
)
from sqlalchemy.engine import Connection

# Constraint names the migrations can refer to; the hub's own tables use the same convention.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)

agreement_versions = Table(
    "agreement_versions",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("district", String(100), nullable=False),
    # The whole agreement as JSON (contracts/store.py): the record the policy reads.
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False),  # active | revoked
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    # Why this version was written: the revocation reason, or a note on an amendment.
    Column("reason", Text, nullable=True),
)
Index("ix_agreement_versions_district", agreement_versions.c.district)

GENERATION_ROW_ID = 1

agreement_generation = Table(
    "agreement_generation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("generation", Integer, nullable=False),
)


@event.listens_for(agreement_generation, "after_create")
def _insert_generation_row(target: Table, connection: Connection, **_kw: Any) -> None:
    connection.execute(target.insert().values(id=GENERATION_ROW_ID, generation=0))

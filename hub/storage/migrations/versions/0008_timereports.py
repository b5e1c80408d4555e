"""timereports: providers reporting time, their batches held for approval, reopened periods

Revision ID: 0008_timereports
Revises: 0007
Create Date: 2026-12-07 07:00:00.000000

Deliveries of a held message are stored in the state ``held`` (``state`` is a free string).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_timereports"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "timereport_providers",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=100), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("lock_day", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_timereport_providers")),
    )
    op.create_index(
        "ix_timereport_providers_system", "timereport_providers", ["system"], unique=False
    )
    op.create_table(
        "timereport_batches",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("provider", "batch_id", name=op.f("pk_timereport_batches")),
    )
    op.create_table(
        "timereport_reopened",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reopened_by", sa.String(length=100), nullable=False),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "period", name=op.f("pk_timereport_reopened")),
    )


def downgrade() -> None:
    op.drop_table("timereport_reopened")
    op.drop_table("timereport_batches")
    op.drop_index("ix_timereport_providers_system", table_name="timereport_providers")
    op.drop_table("timereport_providers")

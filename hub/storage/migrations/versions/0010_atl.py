"""atl: payments held by the working-time check, with their violations and the decision

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "atl_holds",
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("period_from", sa.String(length=10), nullable=False),
        sa.Column("period_to", sa.String(length=10), nullable=False),
        sa.Column("violations", sa.Text(), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_atl_holds_delivery_id_deliveries"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_atl_holds_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_atl_holds")),
    )
    op.create_index("ix_atl_holds_district", "atl_holds", ["district", "decision"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_atl_holds_district", table_name="atl_holds")
    op.drop_table("atl_holds")

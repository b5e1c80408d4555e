"""retention: when a message's payload was shredded, and legal holds that stop it

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("shredded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_messages_retention",
        "messages",
        ["agreement_ref", "shredded_at", "received_at"],
        unique=False,
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("placed_by", sa.String(length=200), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_index(
        "ix_legal_holds_district", "legal_holds", ["district", "lifted_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_legal_holds_district", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_index("ix_messages_retention", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("shredded_at")

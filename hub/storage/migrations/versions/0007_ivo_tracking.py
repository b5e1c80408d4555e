"""ivo: tracked decisions (sealed state, subject as keyed HMAC) and the events applied

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ivo_decisions",
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("district", "decision_id", name=op.f("pk_ivo_decisions")),
    )
    op.create_index("ix_ivo_decisions_subject_ref", "ivo_decisions", ["subject_ref"], unique=False)
    op.create_table(
        "ivo_tracked_messages",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("tracked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_ivo_tracked_messages_message_id_messages"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_ivo_tracked_messages")),
    )


def downgrade() -> None:
    op.drop_table("ivo_tracked_messages")
    op.drop_index("ix_ivo_decisions_subject_ref", table_name="ivo_decisions")
    op.drop_table("ivo_decisions")

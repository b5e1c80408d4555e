"""console messages: indexes of the operators' search, deliveries' district, saved filters

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A district's messages in time order: ix_messages_overview (0015) leads with (district,
    # received_at) and serves the search as well.
    op.create_index("ix_messages_idempotency_key", "messages", ["idempotency_key"], unique=False)
    op.add_column("deliveries", sa.Column("district", sa.String(length=100), nullable=True))
    op.execute(
        "UPDATE deliveries SET district = "
        "(SELECT messages.district FROM messages WHERE messages.id = deliveries.message_id)"
    )
    op.create_index(
        "ix_deliveries_scope", "deliveries", ["state", "district", "destination"], unique=False
    )
    op.create_table(
        "saved_filters",
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_name"], ["users.name"], name=op.f("fk_saved_filters_user_name_users")
        ),
        sa.PrimaryKeyConstraint("user_name", "name", name=op.f("pk_saved_filters")),
    )


def downgrade() -> None:
    op.drop_table("saved_filters")
    op.drop_index("ix_deliveries_scope", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("district")
    op.drop_index("ix_messages_idempotency_key", table_name="messages")

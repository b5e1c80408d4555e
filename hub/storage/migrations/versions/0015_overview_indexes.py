"""overview indexes: a window's messages and dead letters, a destination's last delivery

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 15:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_messages_overview", "messages", ["district", "received_at", "message_type", "id"]
    )
    op.create_index(
        "ix_deliveries_destination_delivered", "deliveries", ["destination", "delivered_at"]
    )
    op.create_index("ix_deliveries_state_updated", "deliveries", ["state", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_state_updated", table_name="deliveries")
    op.drop_index("ix_deliveries_destination_delivered", table_name="deliveries")
    op.drop_index("ix_messages_overview", table_name="messages")

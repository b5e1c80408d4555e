"""deliveries' overview index: a district's deliveries of a window, covering what is counted

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["district", "created_at", "destination", "state", "delivered_at", "attempts"]


def upgrade() -> None:
    # The overview and the statistics count deliveries by their own district and time instead
    # of joining each to its message (hub/storage/overview.py).
    op.create_index("ix_deliveries_overview", "deliveries", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_deliveries_overview", table_name="deliveries")

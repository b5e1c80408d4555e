"""protected_syncs: the last sync of each district's protected-identity marks

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The status of the sync (hub/services/protected_status.py) reads this small table rather
    # than searching the audit trail for each district's last protection_synced entry.
    op.create_table(
        "protected_syncs",
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("destination", sa.String(length=100), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("district", name=op.f("pk_protected_syncs")),
    )


def downgrade() -> None:
    op.drop_table("protected_syncs")

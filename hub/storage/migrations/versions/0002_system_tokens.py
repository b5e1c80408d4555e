"""systems: administrators' districts, token expiry, rotation with overlap

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:00:00

Tokens issued before this revision keep working without an expiry (``expires_at`` stays
empty) until they are rotated; administrators registered before it act for no district and
are refused until re-registered with ``--district`` (before, they could act for every one).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("systems", sa.Column("districts", sa.Text(), nullable=False, server_default=""))
    op.add_column("systems", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("systems", sa.Column("previous_token_hash", sa.String(length=128), nullable=True))
    op.add_column(
        "systems", sa.Column("previous_expires_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "uq_systems_previous_token_hash", "systems", ["previous_token_hash"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_systems_previous_token_hash", table_name="systems")
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("previous_expires_at")
        batch.drop_column("previous_token_hash")
        batch.drop_column("expires_at")
        batch.drop_column("districts")

"""medcom: seen Bundle ids and the acknowledgements answered (receiver-side de-duplication)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 07:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "medcom_bundles",
        sa.Column("bundle_id", sa.String(length=64), primary_key=True),
        sa.Column("header_id", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_medcom_bundles_header", "medcom_bundles", ["header_id"])
    op.create_table(
        "medcom_acknowledgements",
        sa.Column("header_id", sa.String(length=64), primary_key=True),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.String(length=36), sa.ForeignKey("messages.id"), nullable=False),
        sa.Column("acknowledgement", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("medcom_acknowledgements")
    op.drop_index("ix_medcom_bundles_header", table_name="medcom_bundles")
    op.drop_table("medcom_bundles")

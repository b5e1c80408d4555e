"""protected identities (case system's marks, keyed HMAC) and referral facts for statistics

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "protected_identities",
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("district", "subject_ref", name=op.f("pk_protected_identities")),
    )
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("ordering_unit", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("main_category", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("case_type", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("case_class", sa.String(length=40), nullable=True))
    op.create_index("ix_referrals_received", "referrals", ["received_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_referrals_received", table_name="referrals")
    with op.batch_alter_table("referrals") as batch:
        for column in ("case_class", "case_type", "main_category", "ordering_unit"):
            batch.drop_column(column)
    op.drop_table("protected_identities")

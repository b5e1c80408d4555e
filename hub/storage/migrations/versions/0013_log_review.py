"""log review: samples of a district's accesses, their items and the verdicts (insert only)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_samples",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("random_count", sa.Integer(), nullable=False),
        sa.Column("assigned_to", sa.String(length=200), nullable=False),
        sa.Column("drawn_by", sa.String(length=200), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_samples")),
    )
    op.create_index(
        "ix_review_samples_district", "review_samples", ["district", "since"], unique=False
    )
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sample_id", sa.String(length=36), nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("note", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["sample_id"],
            ["review_samples.id"],
            name=op.f("fk_review_items_sample_id_review_samples"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("sample_id", "entry_seq", name="uq_review_items_sample_entry"),
    )
    op.create_index("ix_review_items_entry_seq", "review_items", ["entry_seq"], unique=False)
    op.create_table(
        "review_verdicts",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("amend_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["review_items.id"], name=op.f("fk_review_verdicts_item_id_review_items")
        ),
        sa.PrimaryKeyConstraint("item_id", "revision", name=op.f("pk_review_verdicts")),
    )


def downgrade() -> None:
    op.drop_table("review_verdicts")
    op.drop_index("ix_review_items_entry_seq", table_name="review_items")
    op.drop_table("review_items")
    op.drop_index("ix_review_samples_district", table_name="review_samples")
    op.drop_table("review_samples")

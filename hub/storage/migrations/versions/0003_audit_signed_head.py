"""audit: the head row is signed by each append and records what a time-stamp anchored

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00.000000

A trail from before this revision has an unsigned head: the first append after the upgrade
refuses (audit integrity alarm) until an operator has run ``omsorgshub audit verify`` and
``omsorgshub audit acknowledge``, which signs the head as it stands.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("at", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("key_id", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("anchored_seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("unanchored_since", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("unanchored_since")
        batch_op.drop_column("anchored_seq")
        batch_op.drop_column("signature")
        batch_op.drop_column("key_id")
        batch_op.drop_column("at")

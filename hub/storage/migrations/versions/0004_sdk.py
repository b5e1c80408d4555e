"""deliveries: when a delivery was handed to a destination that answers with a receipt later

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:15:00.000000

A delivery to an SDK message service is ``awaiting_receipt`` between the service's ``201`` and
the recipient's receipt; ``sent_at`` is when it was handed over, from which the destination's
``receipt_timeout_seconds`` runs. The state itself needs no change: ``state`` is a free string.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("sent_at")

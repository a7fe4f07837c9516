"""how far the projections have applied each producer's event log

Revision ID: metrics0403
Revises: metrics0001
Create Date: 2026-11-30 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "metrics0403"
down_revision: str | None = "metrics0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_position",
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("applied_through", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("behind", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("repaired", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("repairing", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_loss_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_loss", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_log_position")),
        schema="metrics",
    )


def downgrade() -> None:
    op.drop_table("log_position", schema="metrics")

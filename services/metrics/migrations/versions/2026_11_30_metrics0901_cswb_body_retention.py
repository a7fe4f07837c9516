"""a delivered CSWB feed's body may be removed by the retention policy: its date, digest and deliveries stay

Revision ID: metrics0901
Revises: metrics0202
Create Date: 2026-11-30 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "metrics0901"
down_revision: str | None = "metrics0202"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("cswb_feed", "body", nullable=True, schema="metrics")
    op.add_column(
        "cswb_feed", sa.Column("body_removed_at", sa.DateTime(timezone=True), nullable=True), schema="metrics"
    )


def downgrade() -> None:
    op.drop_column("cswb_feed", "body_removed_at", schema="metrics")
    op.execute("DELETE FROM metrics.cswb_feed WHERE body IS NULL")
    op.alter_column("cswb_feed", "body", nullable=False, schema="metrics")

"""the first day each recommendation was recorded in progress

Revision ID: metrics0501
Revises: metrics0001
Create Date: 2026-11-30 21:00:00

Filled by the consumer from here on; ``cpted rebuild-metrics`` fills it for the events applied before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "metrics0501"
down_revision: str | None = "metrics0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recommendation_progress",
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("audit_id", sa.Uuid(), nullable=False),
        sa.Column("in_progress_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("recommendation_id", name=op.f("pk_recommendation_progress")),
        schema="metrics",
    )
    op.create_index(
        op.f("ix_recommendation_progress_audit_id"), "recommendation_progress", ["audit_id"], schema="metrics"
    )


def downgrade() -> None:
    op.drop_table("recommendation_progress", schema="metrics")

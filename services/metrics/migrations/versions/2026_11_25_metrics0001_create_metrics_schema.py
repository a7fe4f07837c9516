"""create metrics schema

Revision ID: metrics0001
Revises:
Create Date: 2026-11-25 15:06:16.937529
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "metrics0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "counter_daily",
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partnership_id", "neighbourhood_id", "metric", "day", name=op.f("pk_counter_daily")),
        schema="metrics",
    )
    op.create_index(
        op.f("ix_counter_daily_metric_day"),
        "counter_daily",
        ["metric", "day"],
        unique=False,
        schema="metrics",
    )
    op.create_table(
        "counter_total",
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("partnership_id", "neighbourhood_id", "metric", name=op.f("pk_counter_total")),
        schema="metrics",
    )
    op.create_table(
        "processed_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_event")),
        schema="metrics",
    )
    op.create_index(
        "ix_processed_event_processed_at", "processed_event", ["processed_at"], unique=False, schema="metrics"
    )
    op.create_table(
        "subject",
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("state", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("kind", "id", name=op.f("pk_subject")),
        schema="metrics",
    )
    op.create_index(op.f("ix_subject_kind_parent_id"), "subject", ["kind", "parent_id"], unique=False, schema="metrics")


def downgrade() -> None:
    op.drop_index(op.f("ix_subject_kind_parent_id"), table_name="subject", schema="metrics")
    op.drop_table("subject", schema="metrics")
    op.drop_index("ix_processed_event_processed_at", table_name="processed_event", schema="metrics")
    op.drop_table("processed_event", schema="metrics")
    op.drop_table("counter_total", schema="metrics")
    op.drop_index(op.f("ix_counter_daily_metric_day"), table_name="counter_daily", schema="metrics")
    op.drop_table("counter_daily", schema="metrics")

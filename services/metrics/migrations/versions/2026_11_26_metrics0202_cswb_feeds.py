"""CSWB feeds: one stored feed per date, and its delivery state per destination

Revision ID: metrics0202
Revises: metrics0001
Create Date: 2026-11-26 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "metrics0202"
down_revision: str | None = "metrics0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cswb_feed",
        sa.Column("feed_date", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("feed_date", name=op.f("pk_cswb_feed")),
        schema="metrics",
    )
    op.create_table(
        "cswb_delivery",
        sa.Column("feed_date", sa.Date(), nullable=False),
        sa.Column("destination", sa.String(length=2000), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('pending', 'retrying', 'delivered', 'failed')", name=op.f("ck_cswb_delivery_state")
        ),
        sa.ForeignKeyConstraint(
            ["feed_date"],
            ["metrics.cswb_feed.feed_date"],
            name=op.f("fk_cswb_delivery_feed_date_cswb_feed"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feed_date", "destination", name=op.f("pk_cswb_delivery")),
        schema="metrics",
    )
    op.create_index(
        "ix_cswb_delivery_state",
        "cswb_delivery",
        ["state"],
        unique=False,
        schema="metrics",
        postgresql_where=sa.text("state IN ('pending', 'retrying')"),
    )


def downgrade() -> None:
    op.drop_index("ix_cswb_delivery_state", table_name="cswb_delivery", schema="metrics")
    op.drop_table("cswb_delivery", schema="metrics")
    op.drop_table("cswb_feed", schema="metrics")

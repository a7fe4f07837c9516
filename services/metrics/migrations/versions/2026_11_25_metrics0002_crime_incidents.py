"""crime incidents, their daily counts, and the boundaries incidents were placed with

Revision ID: metrics0002
Revises: metrics0001
Create Date: 2026-11-25 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "metrics0002"
down_revision: str | None = "metrics0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crime_incident",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("lon", sa.Float(precision=53), nullable=True),
        sa.Column("lat", sa.Float(precision=53), nullable=True),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=True),
        sa.Column("reported_neighbourhood_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("(lon IS NULL) = (lat IS NULL)", name=op.f("ck_crime_incident_point_complete")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crime_incident")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_crime_incident_source_external_id")),
        schema="metrics",
    )
    # No spatial index on purpose: a GiST on the points halves the bulk-load rate, and the queries
    # that need points (buffer rings, re-placement) narrow by neighbourhood first.
    op.create_index(
        "ix_crime_incident_occurred_at_id", "crime_incident", ["occurred_at", "id"], unique=False, schema="metrics"
    )
    # Few distinct values: PostgreSQL's deduplicated posting lists keep this one nearly free to maintain.
    op.create_index(
        "ix_crime_incident_neighbourhood_id", "crime_incident", ["neighbourhood_id"], unique=False, schema="metrics"
    )
    op.create_table(
        "incident_daily",
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("neighbourhood_id", "day", "category", name=op.f("pk_incident_daily")),
        schema="metrics",
    )
    op.create_table(
        "placement_boundary",
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=False),
        sa.Column("boundary_hash", sa.String(length=64), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("neighbourhood_id", name=op.f("pk_placement_boundary")),
        schema="metrics",
    )


def downgrade() -> None:
    op.drop_table("placement_boundary", schema="metrics")
    op.drop_table("incident_daily", schema="metrics")
    op.drop_index("ix_crime_incident_neighbourhood_id", table_name="crime_incident", schema="metrics")
    op.drop_index("ix_crime_incident_occurred_at_id", table_name="crime_incident", schema="metrics")
    op.drop_table("crime_incident", schema="metrics")

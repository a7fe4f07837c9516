"""engagement tables: community events, materials, distributions, trainings, stakeholders

Revision ID: events0002
Revises: events0001
Create Date: 2026-11-25 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "events0002"
down_revision: str | None = "events0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "events"
TABLES = ("event", "material", "distribution", "training", "stakeholder")


def _versioned(name: str, *columns: sa.Column, extra: tuple = ()) -> None:  # type: ignore[type-arg]
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        *extra,
        schema=S,
    )


def _index(table: str, *columns: str, **kw: object) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), schema=S, **kw)


def upgrade() -> None:
    _versioned(
        "event",
        sa.Column("partnership_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("special", sa.Boolean(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=True),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("officers_attending", sa.Integer(), nullable=False),
        sa.Column("attendance", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
    )
    _index("event", "partnership_ids", postgresql_using="gin")
    for column in ("kind", "starts_at", "neighbourhood_id", "status"):
        _index("event", column)
    _versioned(
        "material",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("topic", sa.String(length=30), nullable=False),
        sa.Column("source_language", sa.String(length=35), nullable=False),
        sa.Column("published_on", sa.Date(), nullable=False),
        sa.Column("translations", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        extra=(sa.UniqueConstraint("slug", name="uq_material_slug"),),
    )
    _index("material", "topic")
    _versioned(
        "distribution",
        sa.Column("material_id", sa.Uuid(), nullable=False),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("distributed_on", sa.Date(), nullable=False),
        sa.Column("handed_to_at_risk", sa.Integer(), nullable=True),
        sa.Column("handed_to_charged", sa.Integer(), nullable=True),
        extra=(
            sa.ForeignKeyConstraint(
                ["material_id"], ["events.material.id"], name="fk_distribution_material_id_material"
            ),
        ),
    )
    for column in ("material_id", "agency", "distributed_on"):
        _index("distribution", column)
    _versioned(
        "training",
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("cohort", sa.String(length=20), nullable=False),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("material_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
    )
    for column in ("agency", "topic", "held_on"):
        _index("training", column)
    _versioned(
        "stakeholder",
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=True),
        sa.Column("connected_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.String(), nullable=True),
    )
    for column in ("partnership_id", "neighbourhood_id", "connected_on"):
        _index("stakeholder", column)
    for table in TABLES:
        op.create_index(f"ix_{table}_created_at_id", table, ["created_at", "id"], schema=S)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table, schema=S)

"""photos of audits and recommendations

Revision ID: audits0302
Revises: audits0001
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "audits0302"
down_revision: str | None = "audits0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "photo",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("audit_id", sa.Uuid(), nullable=False),
        sa.Column("recommendation_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("taken_at_source", sa.String(length=10), nullable=True),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("location_source", sa.String(length=10), nullable=True),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("thumbnail_key", sa.String(length=300), nullable=False),
        sa.Column("original_filename", sa.String(length=200), nullable=True),
        sa.Column("uploaded_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audits.audit.id"], name=op.f("fk_photo_audit_id_audit"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["audits.recommendation.id"],
            name=op.f("fk_photo_recommendation_id_recommendation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_photo")),
        schema="audits",
    )
    op.create_index(op.f("ix_photo_audit_id_created_at_id"), "photo", ["audit_id", "created_at", "id"], schema="audits")
    op.create_index(
        op.f("ix_photo_recommendation_id_created_at"), "photo", ["recommendation_id", "created_at"], schema="audits"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_photo_recommendation_id_created_at"), table_name="photo", schema="audits")
    op.drop_index(op.f("ix_photo_audit_id_created_at_id"), table_name="photo", schema="audits")
    op.drop_table("photo", schema="audits")

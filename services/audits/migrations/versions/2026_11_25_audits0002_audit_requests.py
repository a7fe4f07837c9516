"""audit requests from residents and 311 systems

Revision ID: audits0002
Revises: audits0001
Create Date: 2026-11-25 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "audits0002"
down_revision: str | None = "audits0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXED = ("neighbourhood_id", "status", "audit_id", "partnership_id", "received_at")


def upgrade() -> None:
    op.create_table(
        "audit_request",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("audit_id", sa.Uuid(), nullable=True),
        sa.Column("partnership_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("media_url", sa.String(length=2000), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["neighbourhood_id"],
            ["audits.neighbourhood.id"],
            name=op.f("fk_audit_request_neighbourhood_id_neighbourhood"),
        ),
        sa.ForeignKeyConstraint(
            ["audit_id"], ["audits.audit.id"], name=op.f("fk_audit_request_audit_id_audit"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"], ["audits.partnership.id"], name=op.f("fk_audit_request_partnership_id_partnership")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_request")),
        schema="audits",
    )
    for column in INDEXED:
        op.create_index(op.f(f"ix_audit_request_{column}"), "audit_request", [column], unique=False, schema="audits")
    op.create_index("ix_audit_request_created_at_id", "audit_request", ["created_at", "id"], schema="audits")
    op.create_table(
        "audit_request_requester",
        sa.Column("audit_request_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_request_id"],
            ["audits.audit_request.id"],
            name=op.f("fk_audit_request_requester_audit_request_id_audit_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("audit_request_id", name=op.f("pk_audit_request_requester")),
        schema="audits",
    )


def downgrade() -> None:
    op.drop_table("audit_request_requester", schema="audits")
    op.drop_index("ix_audit_request_created_at_id", table_name="audit_request", schema="audits")
    for column in INDEXED:
        op.drop_index(op.f(f"ix_audit_request_{column}"), table_name="audit_request", schema="audits")
    op.drop_table("audit_request", schema="audits")

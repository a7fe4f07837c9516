"""create audits schema

Revision ID: audits0001
Revises:
Create Date: 2026-11-25 15:06:16.773506
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


class XID8(sa.types.UserDefinedType):  # type: ignore[type-arg]
    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


revision: str = "audits0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "neighbourhood",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("municipality", sa.String(length=200), nullable=False),
        sa.Column("boundary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_neighbourhood")),
        schema="audits",
    )
    op.create_index(
        op.f("ix_neighbourhood_municipality"),
        "neighbourhood",
        ["municipality"],
        unique=False,
        schema="audits",
    )
    op.create_index(op.f("ix_neighbourhood_name"), "neighbourhood", ["name"], unique=False, schema="audits")
    op.create_table(
        "outbox",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("envelope", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("txid", XID8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_id")),
        schema="audits",
    )
    op.create_index(
        op.f("ix_outbox_position"),
        "outbox",
        ["position"],
        unique=False,
        schema="audits",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        op.f("ix_outbox_subject_id_position"),
        "outbox",
        ["subject_id", "position"],
        unique=False,
        schema="audits",
    )
    op.create_index(op.f("ix_outbox_txid_position"), "outbox", ["txid", "position"], unique=False, schema="audits")
    op.create_table(
        "partnership",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("police_service", sa.String(length=200), nullable=False),
        sa.Column("neighbourhood_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("safety_committees", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("business_improvement_areas", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("formalized_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partnership")),
        sa.UniqueConstraint("name", name=op.f("uq_partnership_name")),
        schema="audits",
    )
    op.create_index(op.f("ix_partnership_status"), "partnership", ["status"], unique=False, schema="audits")
    op.create_table(
        "audit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("partnership_id", sa.Uuid(), nullable=False),
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=False),
        sa.Column("site_name", sa.String(length=200), nullable=False),
        sa.Column("location", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("conducted_on", sa.Date(), nullable=False),
        sa.Column("auditors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trigger", sa.String(length=30), nullable=False),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["neighbourhood_id"],
            ["audits.neighbourhood.id"],
            name=op.f("fk_audit_neighbourhood_id_neighbourhood"),
        ),
        sa.ForeignKeyConstraint(
            ["partnership_id"], ["audits.partnership.id"], name=op.f("fk_audit_partnership_id_partnership")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
        schema="audits",
    )
    op.create_index(op.f("ix_audit_conducted_on"), "audit", ["conducted_on"], unique=False, schema="audits")
    op.create_index(op.f("ix_audit_neighbourhood_id"), "audit", ["neighbourhood_id"], unique=False, schema="audits")
    op.create_index(op.f("ix_audit_partnership_id"), "audit", ["partnership_id"], unique=False, schema="audits")
    op.create_table(
        "recommendation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("audit_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=30), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("responsible_party", sa.String(length=200), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("implemented_on", sa.Date(), nullable=True),
        sa.Column("expected_on", sa.Date(), nullable=True),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["audit_id"],
            ["audits.audit.id"],
            name=op.f("fk_recommendation_audit_id_audit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation")),
        schema="audits",
    )
    op.create_index(op.f("ix_recommendation_audit_id"), "recommendation", ["audit_id"], unique=False, schema="audits")
    op.create_index(op.f("ix_recommendation_category"), "recommendation", ["category"], unique=False, schema="audits")
    op.create_index(op.f("ix_recommendation_status"), "recommendation", ["status"], unique=False, schema="audits")
    op.create_table(
        "recommendation_transition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("recommendation_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["audits.recommendation.id"],
            name=op.f("fk_recommendation_transition_recommendation_id_recommendation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_transition")),
        schema="audits",
    )
    op.create_index(
        op.f("ix_recommendation_transition_recommendation_id_recorded_at"),
        "recommendation_transition",
        ["recommendation_id", "recorded_at"],
        unique=False,
        schema="audits",
    )

    for table in ("neighbourhood", "partnership", "audit", "recommendation"):
        op.create_index(f"ix_{table}_created_at_id", table, ["created_at", "id"], schema="audits")


def downgrade() -> None:
    for table in ("neighbourhood", "partnership", "audit", "recommendation"):
        op.drop_index(f"ix_{table}_created_at_id", table_name=table, schema="audits")
    op.drop_index(
        op.f("ix_recommendation_transition_recommendation_id_recorded_at"),
        table_name="recommendation_transition",
        schema="audits",
    )
    op.drop_table("recommendation_transition", schema="audits")
    op.drop_index(op.f("ix_recommendation_status"), table_name="recommendation", schema="audits")
    op.drop_index(op.f("ix_recommendation_category"), table_name="recommendation", schema="audits")
    op.drop_index(op.f("ix_recommendation_audit_id"), table_name="recommendation", schema="audits")
    op.drop_table("recommendation", schema="audits")
    op.drop_index(op.f("ix_audit_partnership_id"), table_name="audit", schema="audits")
    op.drop_index(op.f("ix_audit_neighbourhood_id"), table_name="audit", schema="audits")
    op.drop_index(op.f("ix_audit_conducted_on"), table_name="audit", schema="audits")
    op.drop_table("audit", schema="audits")
    op.drop_index(op.f("ix_partnership_status"), table_name="partnership", schema="audits")
    op.drop_table("partnership", schema="audits")
    op.drop_index(op.f("ix_outbox_txid_position"), table_name="outbox", schema="audits")
    op.drop_index(op.f("ix_outbox_subject_id_position"), table_name="outbox", schema="audits")
    op.drop_index(
        op.f("ix_outbox_position"),
        table_name="outbox",
        schema="audits",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox", schema="audits")
    op.drop_index(op.f("ix_neighbourhood_name"), table_name="neighbourhood", schema="audits")
    op.drop_index(op.f("ix_neighbourhood_municipality"), table_name="neighbourhood", schema="audits")
    op.drop_table("neighbourhood", schema="audits")

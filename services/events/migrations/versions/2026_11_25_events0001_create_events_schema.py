"""create events schema

Revision ID: events0001
Revises:
Create Date: 2026-11-25 15:06:16.847831
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


class XID8(sa.types.UserDefinedType):  # type: ignore[type-arg]
    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


revision: str = "events0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
        schema="events",
    )
    op.create_index(
        op.f("ix_outbox_position"),
        "outbox",
        ["position"],
        unique=False,
        schema="events",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        op.f("ix_outbox_subject_id_position"),
        "outbox",
        ["subject_id", "position"],
        unique=False,
        schema="events",
    )
    op.create_index(op.f("ix_outbox_txid_position"), "outbox", ["txid", "position"], unique=False, schema="events")


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_txid_position"), table_name="outbox", schema="events")
    op.drop_index(op.f("ix_outbox_subject_id_position"), table_name="outbox", schema="events")
    op.drop_index(
        op.f("ix_outbox_position"),
        table_name="outbox",
        schema="events",
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.drop_table("outbox", schema="events")

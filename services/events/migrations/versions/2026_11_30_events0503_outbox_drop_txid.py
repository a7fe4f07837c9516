"""the outbox no longer records the writing transaction's id: nothing reads it

Revision ID: events0503
Revises: events0203
Create Date: 2026-11-30 17:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "events0503"
down_revision: str | None = "events0203"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_outbox_txid_position"), table_name="outbox", schema="events")
    op.drop_column("outbox", "txid", schema="events")


def downgrade() -> None:
    op.execute("ALTER TABLE events.outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.create_index(op.f("ix_outbox_txid_position"), "outbox", ["txid", "position"], unique=False, schema="events")

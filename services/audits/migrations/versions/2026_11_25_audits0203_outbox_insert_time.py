"""outbox rows carry the time of their insert (the event log's gap rule reads it)

Revision ID: audits0203
Revises: audits0001
Create Date: 2026-11-25 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "audits0203"
down_revision: str | None = "audits0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("outbox", "created_at", server_default=sa.text("clock_timestamp()"), schema="audits")


def downgrade() -> None:
    op.alter_column("outbox", "created_at", server_default=sa.text("now()"), schema="audits")

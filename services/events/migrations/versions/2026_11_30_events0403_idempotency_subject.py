"""idempotency keys remember the record their change was about

Revision ID: events0403
Revises: events0103
Create Date: 2026-11-30 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "events0403"
down_revision: str | None = "events0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("idempotency_key", sa.Column("subject_id", sa.Uuid(), nullable=True), schema="events")


def downgrade() -> None:
    op.drop_column("idempotency_key", "subject_id", schema="events")

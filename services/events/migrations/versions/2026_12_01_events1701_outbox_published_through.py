"""where the relays are in the outbox: one position, so a publish no longer rewrites every outbox row

Revision ID: events1701
Revises: events0503
Create Date: 2026-12-01 06:00:00

Expand step. The relays of this release keep the highest position published in order in
``outbox_published`` and no longer set ``outbox.published_at``; it starts just below the first row
the previous release had not marked (rows after it that were marked go out once more, and consumers
absorb them by event id). While both releases run, each release's relays publish what the other's
published: duplicates only. The next release drops ``published_at`` and its partial index (contract).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "events1701"
down_revision: str | None = "events0503"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_published",
        sa.Column("id", sa.SmallInteger(), server_default=sa.text("1"), nullable=False),
        sa.Column("through", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_outbox_published_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_published")),
        schema="events",
    )
    # Writers still committing hold positions the mark must not pass: wait for them, and hold new ones off until
    # the mark is in (this migration's transaction).
    op.execute("LOCK TABLE events.outbox IN SHARE MODE")
    op.execute(
        """
        INSERT INTO events.outbox_published (through)
        SELECT coalesce((SELECT min(position) - 1 FROM events.outbox WHERE published_at IS NULL),
                        (SELECT max(position) FROM events.outbox), 0)
        """
    )


def downgrade() -> None:
    # The rows the relays of this release published carry no mark: the previous release publishes them again.
    op.drop_table("outbox_published", schema="events")

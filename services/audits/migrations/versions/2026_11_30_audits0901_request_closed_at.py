"""when an audit request was closed (done or rejected): the requester's contact is erased a period after

Revision ID: audits0901
Revises: audits0002
Create Date: 2026-11-30 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "audits0901"
down_revision: str | None = "audits0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_request", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True), schema="audits")
    # A request closed before: the time of its first event in a final state, else its last change.
    op.execute(
        """
        UPDATE audits.audit_request r SET closed_at = COALESCE(
            (SELECT min(o.created_at) FROM audits.outbox o
             WHERE o.subject_id = r.id AND o.envelope->'payload'->>'status' IN ('done', 'rejected')),
            r.updated_at)
        WHERE r.status IN ('done', 'rejected')
        """
    )
    op.create_index(op.f("ix_audit_request_closed_at"), "audit_request", ["closed_at"], schema="audits")


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_request_closed_at"), table_name="audit_request", schema="audits")
    op.drop_column("audit_request", "closed_at", schema="audits")

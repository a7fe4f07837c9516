"""closed_at for requests the previous release closed while both releases ran side by side

Revision ID: audits0902
Revises: audits0901
Create Date: 2026-11-30 23:30:00

``audits0901`` (the expand step) added ``closed_at`` and filled it for the requests closed until then. During
a rolling deploy the release before it kept closing requests without setting ``closed_at``, and retention
counts from ``closed_at``: such a request would keep its requester's contact for ever. This contract step,
which runs once no process of that release is left, gives them the same time ``audits0901`` gave the others.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "audits0902"
down_revision: str | None = "audits0901"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE audits.audit_request r SET closed_at = COALESCE(
            (SELECT min(o.created_at) FROM audits.outbox o
             WHERE o.subject_id = r.id AND o.envelope->'payload'->>'status' IN ('done', 'rejected')),
            r.updated_at)
        WHERE r.status IN ('done', 'rejected') AND r.closed_at IS NULL
        """
    )


def downgrade() -> None:
    """Nothing to undo: the times given are the ones the request's history shows."""

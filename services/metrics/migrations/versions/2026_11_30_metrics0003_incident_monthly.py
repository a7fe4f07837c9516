"""monthly incident counts, kept from the daily counts by statement-level triggers

Revision ID: metrics0003
Revises: metrics0002
Create Date: 2026-11-30 14:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "metrics0003"
down_revision: str | None = "metrics0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every writer of incident_daily adds deltas (INSERT ... ON CONFLICT DO UPDATE, COPY); the triggers add the same
# deltas per calendar month from each statement's transition tables, so no writer has to know this table.
MONTH = "(day - (extract(day FROM day)::int - 1))"
CHANGES = {
    "insert": f"SELECT neighbourhood_id, {MONTH} AS month, category, incidents AS delta FROM added",
    "update": f"SELECT neighbourhood_id, {MONTH} AS month, category, incidents AS delta FROM added "
    f"UNION ALL SELECT neighbourhood_id, {MONTH}, category, -incidents FROM removed",
    "delete": f"SELECT neighbourhood_id, {MONTH} AS month, category, -incidents AS delta FROM removed",
}
REFERENCING = {
    "insert": "NEW TABLE AS added",
    "update": "OLD TABLE AS removed NEW TABLE AS added",
    "delete": "OLD TABLE AS removed",
}


def _function(event: str) -> str:
    return f"""
CREATE FUNCTION metrics.incident_monthly_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO metrics.incident_monthly AS m (neighbourhood_id, month, category, incidents)
    SELECT neighbourhood_id, month, category, sum(delta) FROM ({CHANGES[event]}) AS changes
    GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (neighbourhood_id, month, category) DO UPDATE SET incidents = m.incidents + excluded.incidents;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table(
        "incident_monthly",
        sa.Column("neighbourhood_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("neighbourhood_id", "month", "category", name=op.f("pk_incident_monthly")),
        schema="metrics",
    )
    op.execute(
        f"INSERT INTO metrics.incident_monthly (neighbourhood_id, month, category, incidents) "
        f"SELECT neighbourhood_id, {MONTH}, category, sum(incidents) FROM metrics.incident_daily GROUP BY 1, 2, 3"
    )
    for event in CHANGES:
        op.execute(_function(event))
        op.execute(
            f"CREATE TRIGGER incident_monthly_{event} AFTER {event.upper()} ON metrics.incident_daily "
            f"REFERENCING {REFERENCING[event]} FOR EACH STATEMENT EXECUTE FUNCTION metrics.incident_monthly_{event}()"
        )
    op.execute(
        "CREATE FUNCTION metrics.incident_monthly_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN DELETE FROM metrics.incident_monthly; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER incident_monthly_truncate AFTER TRUNCATE ON metrics.incident_daily "
        "FOR EACH STATEMENT EXECUTE FUNCTION metrics.incident_monthly_truncate()"
    )


def downgrade() -> None:
    for event in (*CHANGES, "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS incident_monthly_{event} ON metrics.incident_daily")
        op.execute(f"DROP FUNCTION IF EXISTS metrics.incident_monthly_{event}()")
    op.drop_table("incident_monthly", schema="metrics")

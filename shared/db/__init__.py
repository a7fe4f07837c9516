"""PostgreSQL: one engine per process, the unit of work, migrations per schema."""

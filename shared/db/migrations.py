"""Alembic migrations per schema, run programmatically on one shared connection.

Every schema (``auth`` and one per service) has its own script directory and
its own version table inside the schema, so services migrate independently.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db.engine import async_url


def alembic_config(script_location: Path, schema: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["schema"] = schema
    if url:
        cfg.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return cfg


def run_env(metadata: MetaData) -> None:
    """Body of every ``env.py``: migrate on the given connection, or open one."""
    config = context.config
    schema = metadata.schema or config.attributes["schema"]
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _run(connection, metadata, schema)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from shared.settings import get_settings

        url = async_url(get_settings().resolved_database_url())

    async def _online() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.begin() as conn:
            await conn.run_sync(_run, metadata, schema)
        await engine.dispose()

    asyncio.run(_online())


def _run(connection: Connection, metadata: MetaData, schema: str) -> None:
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def upgrade(url: str, locations: list[tuple[Path, str]]) -> None:
    """Bring every schema to its head revision."""
    engine = create_async_engine(async_url(url), poolclass=pool.NullPool)
    try:
        for script_location, schema in locations:
            async with engine.begin() as conn:
                # One migrator at a time, so parallel start-ups do not race.
                await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('cpted-migrations'))"))
                await conn.run_sync(_upgrade_on, script_location, schema)
    finally:
        await engine.dispose()


def _upgrade_on(connection: Connection, script_location: Path, schema: str) -> None:
    cfg = alembic_config(script_location, schema)
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "heads")

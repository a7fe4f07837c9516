"""Upgrading over real data: the demo data set written at the first revision of every schema, then every
migration since, and the data still whole and served as before.

The data at the first revisions is the demo loaded at head, projected onto the columns the first revisions
have (a table created by a later revision cannot hold data at the first one). Every migration then runs
over those rows, as an upgrade of a city's year-old database would.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from cpted import pgtools
from cpted.demo import load_demo_data
from cpted.platform import migrate
from cpted.schemas import SCHEMAS
from shared.auth.keys import Scope, issue_key
from shared.db.engine import dispose_engines, get_engine, plain_url, session_factory
from shared.db.migrations import alembic_config
from shared.settings import get_settings
from tests.integration.conftest import client_for
from tests.servers import TestServers, fresh_database

COLUMNS = """
    SELECT table_schema, table_name, array_agg(column_name::text ORDER BY ordinal_position)
    FROM information_schema.columns
    WHERE table_schema = ANY($1) AND table_name <> 'alembic_version'
    GROUP BY table_schema, table_name
"""
IDENTITIES = """
    SELECT table_schema, table_name, column_name FROM information_schema.columns
    WHERE table_schema = ANY($1) AND is_identity = 'YES'
"""
SCHEMA_NAMES = [schema for _, schema in SCHEMAS]


def _first_revisions(url: str) -> None:
    """Every schema at the first revision of its history."""
    for location, schema in SCHEMAS:
        config = alembic_config(location, schema, url)
        (first,) = ScriptDirectory.from_config(config).get_bases()
        command.upgrade(config, first)


async def _tables(conn: asyncpg.Connection) -> dict[tuple[str, str], list[str]]:
    return {(r[0], r[1]): list(r[2]) for r in await conn.fetch(COLUMNS, SCHEMA_NAMES)}


async def _digest(conn: asyncpg.Connection, schema: str, table: str, columns: list[str]) -> tuple[int, str]:
    """Row count and an order-free digest of the rows over ``columns``."""
    listed = ", ".join(f'"{c}"' for c in columns)
    row = await conn.fetchrow(
        f"SELECT count(*), coalesce(md5(string_agg(md5(row({listed})::text), '' ORDER BY md5(row({listed})::text))), "
        f"'') FROM {schema}.{table}"
    )
    return row[0], row[1]


async def _copy(source: asyncpg.Connection, target: asyncpg.Connection) -> dict[tuple[str, str], list[str]]:
    """The source's rows into the target's tables, over the columns both have; returns those columns."""
    theirs, ours = await _tables(source), await _tables(target)
    common = {t: [c for c in cols if c in theirs[t]] for t, cols in ours.items() if t in theirs}
    await target.execute("SET session_replication_role = replica")  # rows in any order, as a restore loads them
    for (schema, table), columns in common.items():
        listed = ", ".join(f'"{c}"' for c in columns)
        rows = await source.fetch(f"SELECT {listed} FROM {schema}.{table}")
        if rows:
            await target.copy_records_to_table(table, schema_name=schema, columns=columns, records=rows)
    for schema, table, column in await target.fetch(IDENTITIES, SCHEMA_NAMES):
        await target.execute(
            f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', '{column}'), "
            f"coalesce((SELECT max({column}) FROM {schema}.{table}), 0) + 1, false)"
        )
    await target.execute("SET session_replication_role = origin")
    return common


async def _served(url: str, paths: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the APIs answer on the database at ``url``, for the given paths of each service."""
    from services.audits.app import create_app as audits_app
    from services.events.app import create_app as events_app

    settings = get_settings().model_copy(update={"database_url": url})
    async with session_factory(get_engine(settings))() as session:
        key = (await issue_key(session, name="upgrade check", scope=Scope.admin)).plaintext
        await session.commit()
    answers: dict[str, Any] = {}
    monkeypatch.setenv("CPTED_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        for service, app in (("audits", audits_app), ("events", events_app)):
            async for client in client_for(app(), key):
                for path in paths[service]:
                    response: httpx.Response = await client.get(path, params={"limit": 500})
                    assert response.status_code == 200, (url, path, response.text)
                    answers[f"{service}{path}"] = response.json()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        await dispose_engines()
    return answers


async def test_the_demo_at_the_first_revisions_upgrades_to_head_whole_and_served_alike(
    servers: TestServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:6]
    head = await asyncio.to_thread(fresh_database, servers, f"upgrade_head_{tag}")
    settings = get_settings().model_copy(update={"database_url": head})
    assert await load_demo_data(get_engine(settings))
    await dispose_engines()

    name = f"{servers.database}_upgrade_old_{tag}"
    servers.extra_databases.append(name)
    old = pgtools.with_database(servers.admin_url, name)
    await pgtools.recreate(old)
    await asyncio.to_thread(_first_revisions, old)

    source, target = await asyncpg.connect(plain_url(head)), await asyncpg.connect(plain_url(old))
    try:
        carried = await _copy(source, target)
        before = {t: await _digest(target, *t, cols) for t, cols in carried.items()}
        # The programme's own figures: 20 audits and 201 recommendations, and both producers' event logs (the
        # events service's first revision holds its outbox only: its tables came with its second).
        assert before[("audits", "audit")][0] == 20 and before[("audits", "recommendation")][0] >= 201
        assert before[("audits", "outbox")][0] > 300 and before[("events", "outbox")][0] > 100
    finally:
        await source.close()
        await target.close()

    await migrate(old)  # every migration since, over the data

    source, target = await asyncpg.connect(plain_url(head)), await asyncpg.connect(plain_url(old))
    try:
        for (schema, table), columns in carried.items():
            # The rows carried are all there, unchanged in every column they had.
            assert await _digest(target, schema, table, columns) == before[(schema, table)], (schema, table)
        # Every column the upgrade added is filled as the head database fills it for the same rows.
        theirs, ours = await _tables(source), await _tables(target)
        assert ours == theirs
        for table, columns in carried.items():
            added = [c for c in ours[table] if c not in columns]
            if added:
                assert await _digest(target, *table, ours[table]) == await _digest(source, *table, ours[table]), (
                    table,
                    added,
                )
    finally:
        await source.close()
        await target.close()

    paths = {"audits": ["/v1/partnerships", "/v1/neighbourhoods", "/v1/audits", "/v1/outbox"], "events": ["/v1/outbox"]}
    assert await _served(old, paths, monkeypatch) == await _served(head, paths, monkeypatch)

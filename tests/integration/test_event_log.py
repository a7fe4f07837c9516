"""The event log never skips an event that commits late, and passes over rolled-back positions."""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audits.tables import outbox
from shared.bus.outbox import read_log
from shared.db.engine import plain_url, session_factory
from shared.settings import get_settings

INSERT = (
    "INSERT INTO audits.outbox (id, type, version, subject_id, envelope) "
    "VALUES ($1, 'audit.created', 1, $1, '{\"n\": 1}'::jsonb) RETURNING position"
)


async def _read(engine: AsyncEngine, after: int, gap_timeout_s: float = 30) -> tuple[list[int], bool]:
    async with session_factory(engine)() as session:
        page = await read_log(session, outbox, after, 100, gap_timeout_s)
    return [item["position"] for item in page.items], page.waiting


async def test_a_late_commit_is_waited_for_and_a_rollback_passed_over(engine: AsyncEngine, clean: None) -> None:
    url = plain_url(get_settings().resolved_database_url())
    slow, fast = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        first = await fast.fetchval(INSERT, uuid.uuid4())
        late_tx = slow.transaction()
        await late_tx.start()
        late = await slow.fetchval(INSERT, uuid.uuid4())
        after_late = await fast.fetchval(INSERT, uuid.uuid4())
        assert await _read(engine, first - 1) == ([first], True)  # stops before the position still committing
        await late_tx.commit()
        assert await _read(engine, first - 1) == ([first, late, after_late], False)

        doomed_tx = slow.transaction()
        await doomed_tx.start()
        await slow.fetchval(INSERT, uuid.uuid4())
        last = await fast.fetchval(INSERT, uuid.uuid4())
        await doomed_tx.rollback()
        assert await _read(engine, after_late) == ([], True)  # too recent to tell a rollback from a slow commit
        assert await _read(engine, after_late, gap_timeout_s=0) == ([last], False)
    finally:
        await slow.close()
        await fast.close()

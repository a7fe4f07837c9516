"""The engagement demo loads once through the real handlers and gives the report's 19 special events."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cpted.demo.audits import load_demo
from cpted.demo.engagement import SPECIAL_EVENTS, load_engagement_demo
from cpted.demo.outreach import OUTREACH
from services.events.materials.domain.language_check import check
from tests.integration.test_bus import _consume_all, _consumer, _relay_all, _totals


def test_the_demo_material_models_person_first_language() -> None:
    for outreach in OUTREACH:
        for lang, text_ in {**outreach.texts, **outreach.later}.items():
            assert check(text_.title, lang) == [] and check(text_.body, lang) == [], (outreach.slug, lang)


async def test_the_demo_loads_once_and_gives_the_reported_engagement(
    engine: AsyncEngine, redis: Redis, metrics_api: httpx.AsyncClient
) -> None:
    assert SPECIAL_EVENTS == 19
    assert await load_demo(engine)
    assert await load_engagement_demo(engine)
    assert not await load_engagement_demo(engine)
    async with engine.connect() as conn:
        outbox = (await conn.execute(text("SELECT count(*) FROM events.outbox"))).scalar_one()
    assert await _relay_all(redis, "audits") > 0
    assert await _relay_all(redis, "events") == outbox
    await _consume_all(_consumer(engine, redis))
    totals = await _totals(metrics_api)
    assert totals["special_events"] == 19
    assert (totals["partnerships"], totals["audits"], totals["recommendations_implemented"]) == (4, 20, 27)
    assert (totals["materials"], totals["translations"]) == (4, 5)
    assert totals["stakeholders"] == totals["new_connections"] > 0
    assert totals["trainings"] == 9 and totals["copies_distributed"] > 0
    by_partnership = (await metrics_api.get("/v1/totals/by-partnership")).json()
    assert sum(row["special_events"] for row in by_partnership) == 19 + 2  # two are shared by two partnerships

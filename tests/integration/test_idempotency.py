"""Idempotency-Key on POST: the first answer, once, whatever the client retries."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from tests import factories
from tests.integration.conftest import client_for, new_key


async def _count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_a_repeat_gets_the_first_answer_and_writes_nothing(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    url = f"/v1/audits/{world['audit']['id']}/recommendations"
    headers = {"Idempotency-Key": "rec-1"}
    first = await audits_api.post(url, json=factories.recommendation(), headers=headers)
    again = await audits_api.post(url, json=factories.recommendation(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await _count(engine, "SELECT count(*) FROM audits.recommendation") == 1
    assert await _count(engine, "SELECT count(*) FROM audits.outbox WHERE type = 'recommendation.created'") == 1


async def test_the_same_key_with_another_body_is_422(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    url = f"/v1/audits/{world['audit']['id']}/recommendations"
    await audits_api.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "k"})
    other = await audits_api.post(url, json=factories.recommendation(priority="low"), headers={"Idempotency-Key": "k"})
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")


async def test_racing_repeats_write_once_and_all_get_the_answer(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    url = f"/v1/audits/{world['audit']['id']}/recommendations"
    answers = await asyncio.gather(
        *(audits_api.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "race"}) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _count(engine, "SELECT count(*) FROM audits.recommendation") == 1


async def test_a_refused_request_does_not_use_up_its_key(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    url = f"/v1/audits/{world['audit']['id']}/recommendations"
    bad = await audits_api.post(
        url, json=factories.recommendation(priority="urgent"), headers={"Idempotency-Key": "fix"}
    )
    assert bad.status_code == 422
    good = await audits_api.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "fix"})
    assert good.status_code == 201


async def test_keys_belong_to_their_api_key(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    from services.audits.app import create_app

    url = f"/v1/audits/{world['audit']['id']}/recommendations"
    await audits_api.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "shared"})
    other_key = await new_key(engine, Scope.admin)
    async for other in client_for(create_app(), other_key):
        r = await other.post(url, json=factories.recommendation(), headers={"Idempotency-Key": "shared"})
        assert r.status_code == 201
        assert "idempotent-replayed" not in r.headers
    assert await _count(engine, "SELECT count(*) FROM audits.recommendation") == 2


async def test_an_unusable_key_is_400(audits_api: httpx.AsyncClient, world: dict[str, Any]) -> None:
    r = await audits_api.post(
        "/v1/neighbourhoods", json=factories.neighbourhood(), headers={"Idempotency-Key": "x" * 300}
    )
    assert r.status_code == 400

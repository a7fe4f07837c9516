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


async def test_metrics_replays_a_webhook_subscription_and_subscribes_once(
    metrics_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    body = {"url": "http://127.0.0.1:9/hooks", "types": ["audit.created"]}
    first = await metrics_api.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "hook-1"})
    again = await metrics_api.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "hook-1"})
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.content == first.content  # the same id and the same secret
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await _count(engine, "SELECT count(*) FROM metrics.webhook_subscription") == 1
    other = await metrics_api.post(
        "/v1/webhooks", json=body | {"types": ["audit.updated"]}, headers={"Idempotency-Key": "hook-1"}
    )
    assert other.status_code == 422
    assert other.json()["type"].endswith("idempotency-key-reused")
    assert await _count(engine, "SELECT count(*) FROM metrics.webhook_subscription") == 1


async def test_metrics_racing_subscriptions_with_one_key_subscribe_once(
    metrics_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    body = {"url": "http://127.0.0.1:9/hooks"}
    answers = await asyncio.gather(
        *(metrics_api.post("/v1/webhooks", json=body, headers={"Idempotency-Key": "hook-race"}) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert await _count(engine, "SELECT count(*) FROM metrics.webhook_subscription") == 1


async def test_metrics_replays_a_batch_of_incidents(metrics_api: httpx.AsyncClient, engine: AsyncEngine) -> None:
    incidents = [
        {"source": "police", "external_id": f"i-{i}", "category": "theft", "occurred_at": "2026-03-01T12:00:00Z",
         "location": {"type": "Point", "coordinates": [-83.0, 42.3]}}
        for i in range(3)
    ]  # fmt: skip
    first = await metrics_api.post("/v1/crime-incidents", json=incidents, headers={"Idempotency-Key": "batch"})
    again = await metrics_api.post("/v1/crime-incidents", json=incidents, headers={"Idempotency-Key": "batch"})
    assert (first.status_code, again.status_code) == (201, 201), first.text
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert await _count(engine, "SELECT count(*) FROM metrics.crime_incident") == 3
    fewer = await metrics_api.post("/v1/crime-incidents", json=incidents[:1], headers={"Idempotency-Key": "batch"})
    assert fewer.status_code == 422


async def test_metrics_racing_batches_of_incidents_with_one_key_all_get_the_first_answer(
    metrics_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    incidents = [
        {"source": "police", "external_id": f"r-{i}", "category": "theft", "occurred_at": "2026-03-01T12:00:00Z",
         "location": {"type": "Point", "coordinates": [-83.0, 42.3]}}
        for i in range(3)
    ]  # fmt: skip
    answers = await asyncio.gather(
        *(
            metrics_api.post("/v1/crime-incidents", json=incidents, headers={"Idempotency-Key": "race"})
            for _ in range(6)
        )
    )
    # One stores the batch; every racer gets its answer ("3 stored"), none a "nothing new" of its own.
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert await _count(engine, "SELECT count(*) FROM metrics.crime_incident") == 3


async def test_metrics_racing_category_map_versions_with_one_key_store_one(
    metrics_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    current = (await metrics_api.get("/v1/evaluations/category-map")).json()
    before = await _count(engine, "SELECT count(*) FROM metrics.category_map")
    new_map = {
        "replaces_version": current["version"],
        "effective_from": "2026-01-01",
        "note": "one change, sent by a client that retries",
        "families": current["families"],
        "categories": current["categories"],
    }
    answers = await asyncio.gather(
        *(
            metrics_api.post("/v1/evaluations/category-maps", json=new_map, headers={"Idempotency-Key": "map"})
            for _ in range(4)
        )
    )
    # Without the claim, the racers lost to the first with a 409 on replaces_version.
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert {a.json()["version"] for a in answers} == {current["version"] + 1}
    assert await _count(engine, "SELECT count(*) FROM metrics.category_map") == before + 1


async def test_a_new_keys_plaintext_is_never_kept_for_repeats_and_repeats_make_no_second_key(
    audits_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    body = {"name": "retried by a script", "scope": "reader"}
    answers = await asyncio.gather(
        *(audits_api.post("/v1/keys", json=body, headers={"Idempotency-Key": "new-key"}) for _ in range(4))
    )
    made = [a for a in answers if a.status_code == 201]
    assert len(made) == 1, [a.text for a in answers]  # one key, its plaintext shown once
    plaintext, location = made[0].json()["key"], made[0].headers["location"]
    for repeat in [a for a in answers if a.status_code != 201] + [
        await audits_api.post("/v1/keys", json=body, headers={"Idempotency-Key": "new-key"})
    ]:
        assert repeat.status_code == 409 and repeat.headers["content-type"] == "application/problem+json"
        assert repeat.json()["type"].endswith("/idempotency-answer-not-kept")
        assert repeat.headers["location"] == location and plaintext not in repeat.text
    assert await _count(engine, "SELECT count(*) FROM auth.api_key WHERE name = 'retried by a script'") == 1
    stored = "SELECT count(*) FROM audits.idempotency_key WHERE position('{}' in convert_from(body, 'UTF8')) > 0"
    kept = await _count(engine, stored.format(plaintext))
    assert kept == 0  # the secret is nowhere in the database but as its hash

"""Webhooks: subscriptions, deliveries enqueued by the metrics consumer, signed POSTs to a real receiver.

Events go the platform's way (outbox, relay, Redis stream, the metrics consumer);
each attempt here is what one Celery task does (``handlers.deliver``), run in the
test so every attempt's outcome can be looked at (tests/e2e/test_webhooks_celery.py
runs them on real workers).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.webhooks import handlers
from services.metrics.webhooks.settings import WebhookSettings
from shared.auth.keys import Scope
from tests import factories
from tests.cswb_receiver import Receiver
from tests.integration.conftest import client_for, new_key
from tests.integration.test_access import two  # noqa: F401  (the fixture: partnerships A and B, an editor of A)
from tests.integration.test_bus import _consume_all, _consumer, _relay_all

SETTINGS = WebhookSettings(webhook_backoff_base_s=0.01, webhook_backoff_max_s=0.02, webhook_disable_after=3)


def _metrics() -> FastAPI:
    from services.metrics.app import create_app

    return create_app()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver("unknown until the webhook is created", prefix="X-CPTED", key="id").start()
    yield receiver
    receiver.stop()


@pytest.fixture
async def metrics(two: dict[str, Any], engine: AsyncEngine) -> AsyncIterator[dict[str, httpx.AsyncClient]]:  # noqa: F811
    admin = await new_key(engine, Scope.admin)
    editor = await new_key(engine, Scope.editor, [two["a"]["partnership"]["id"]])
    async for admin_client in client_for(_metrics(), admin):
        async for editor_client in client_for(_metrics(), editor):
            yield {"admin": admin_client, "editor": editor_client}


async def _subscribe(client: httpx.AsyncClient, receiver: Receiver, **body: Any) -> dict[str, Any]:
    r = await client.post("/v1/webhooks", json={"url": receiver.url, **body})
    assert r.status_code == 201, r.text
    created = dict(r.json())
    receiver.secret = created["secret"]
    return created


async def _sync(engine: AsyncEngine, redis: Redis) -> None:
    for source in ("audits", "events"):
        await _relay_all(redis, source)
    await _consume_all(_consumer(engine, redis))


async def _deliver_open(engine: AsyncEngine, rounds: int = 1) -> None:
    """What the workers would do: every open delivery's next attempt, ``rounds`` times over."""
    async with handlers.new_client(SETTINGS) as client:
        for _ in range(rounds):
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT id, attempts FROM metrics.webhook_delivery WHERE state IN ('pending', 'retrying')")
                    )
                ).all()
            for row in rows:
                await handlers.deliver(engine, SETTINGS, handlers.Ticket(row.id, row.attempts), client)


async def _deliveries(client: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    r = await client.get(f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_signed_deliveries_arrive_and_an_editors_webhook_gets_its_partnerships_events_only(
    two: dict[str, Any],  # noqa: F811
    metrics: dict[str, httpx.AsyncClient],
    engine: AsyncEngine,
    redis: Redis,
) -> None:
    mine = Receiver("", prefix="X-CPTED", key="id").start()
    everything = Receiver("", prefix="X-CPTED", key="id").start()
    try:
        editors = await _subscribe(metrics["editor"], mine)
        assert editors["partnership_ids"] == [two["a"]["partnership"]["id"]]
        await _subscribe(metrics["admin"], everything, types=["audit.created", "recommendation.created"])
        await _sync(engine, redis)
        await _sync(engine, redis)  # the same events again change nothing
        await _deliver_open(engine)
    finally:
        mine.stop()
        everything.stop()
    a, b = two["a"], two["b"]
    got = [_body(x) for x in mine.attempts]
    assert mine.attempts and all(x.signature_ok and x.status == 200 for x in mine.attempts)
    subjects = {e["subject_id"] for e in got}
    for kind in ("audit", "recommendation", "event", "stakeholder", "audit_request"):
        assert a[kind]["id"] in subjects, kind
        assert b[kind]["id"] not in subjects, kind
    assert all(e["actor"] is None for e in got)  # who made a change is for admins
    assert len({e["id"] for e in got}) == len(got)  # once each
    assert sorted(x.idempotency_key for x in mine.attempts) == sorted(e["id"] for e in got)
    admin_got = [_body(x) for x in everything.attempts]
    assert sorted(e["type"] for e in admin_got) == ["audit.created"] * 2 + ["recommendation.created"] * 2
    log = await _deliveries(metrics["editor"], editors["id"])
    assert len(log) == len(got) and {d["state"] for d in log} == {"delivered"}


def _body(attempt: Any) -> dict[str, Any]:
    import orjson

    return dict(orjson.loads(attempt.body))


async def test_a_receiver_failing_twice_gets_it_on_the_third_try_and_redeliver_sends_it_again(
    two: dict[str, Any],  # noqa: F811
    metrics: dict[str, httpx.AsyncClient],
    engine: AsyncEngine,
    redis: Redis,
    receiver: Receiver,
) -> None:
    await _sync(engine, redis)  # the fixture's events, applied before the webhook: never sent to it
    hook = await _subscribe(metrics["admin"], receiver, types=["audit.created"])
    audit = await two["admin_audits"].post(
        "/v1/audits", json=factories.audit(two["a"]["partnership"]["id"], two["a"]["neighbourhood"]["id"])
    )
    await _sync(engine, redis)
    (delivery,) = await _deliveries(metrics["admin"], hook["id"])
    receiver.fail_first[delivery["event_id"]] = 2
    await _deliver_open(engine, rounds=3)
    assert receiver.tries(delivery["event_id"]) == [503, 503, 200]
    assert _body(receiver.attempts[-1])["subject_id"] == audit.json()["id"]
    (done,) = await _deliveries(metrics["admin"], hook["id"])
    assert (done["state"], done["attempts"], done["last_status"]) == ("delivered", 3, 200)

    r = await metrics["admin"].post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    assert r.status_code == 202, r.text
    assert r.json()["state"] == "pending"
    await _deliver_open(engine)
    assert receiver.tries(delivery["event_id"]) == [503, 503, 200, 200]
    assert receiver.attempts[-1].idempotency_key == delivery["event_id"]  # the receiver can tell a repeat
    missing = await metrics["admin"].post(f"/v1/webhooks/{hook['id']}/deliveries/{uuid.uuid4()}/redeliver")
    assert missing.status_code == 404


async def test_failures_in_a_row_disable_the_webhook_until_it_is_turned_back_on(
    two: dict[str, Any],  # noqa: F811
    metrics: dict[str, httpx.AsyncClient],
    engine: AsyncEngine,
    redis: Redis,
    receiver: Receiver,
) -> None:
    receiver.always_fail = True
    hook = await _subscribe(metrics["editor"], receiver, types=["audit.created"])
    await _sync(engine, redis)
    await _deliver_open(engine, rounds=5)
    assert [a.status for a in receiver.attempts] == [503] * SETTINGS.webhook_disable_after
    seen = (await metrics["editor"].get(f"/v1/webhooks/{hook['id']}")).json()
    assert (seen["enabled"], seen["consecutive_failures"]) == (False, 3)
    assert "3 failed attempts" in seen["disabled_reason"]
    refused = await metrics["editor"].post(
        f"/v1/webhooks/{hook['id']}/deliveries/{(await _deliveries(metrics['editor'], hook['id']))[0]['id']}/redeliver"
    )
    assert refused.status_code == 422

    receiver.always_fail = False
    r = await metrics["editor"].patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
    assert r.status_code == 200, r.text
    assert (r.json()["enabled"], r.json()["consecutive_failures"], r.json()["disabled_reason"]) == (True, 0, None)
    await _deliver_open(engine)
    assert receiver.attempts[-1].status == 200
    assert {d["state"] for d in await _deliveries(metrics["editor"], hook["id"])} == {"delivered"}


async def test_who_may_subscribe_to_what(
    two: dict[str, Any],  # noqa: F811
    metrics: dict[str, httpx.AsyncClient],
    engine: AsyncEngine,
    receiver: Receiver,
) -> None:
    admin, editor = metrics["admin"], metrics["editor"]
    b = two["b"]["partnership"]["id"]
    r = await editor.post("/v1/webhooks", json={"url": receiver.url, "partnership_ids": [b]})
    assert r.status_code == 403
    admins = await _subscribe(admin, receiver)
    assert admins["partnership_ids"] is None and admins["secret"].startswith("whsec_")
    assert (await editor.get(f"/v1/webhooks/{admins['id']}")).status_code == 404
    assert (await editor.get("/v1/webhooks")).json() == {"items": [], "next_cursor": None}
    listed = (await admin.get("/v1/webhooks")).json()["items"]
    assert [w["id"] for w in listed] == [admins["id"]] and "secret" not in listed[0]
    assert "secret" not in (await admin.get(f"/v1/webhooks/{admins['id']}")).json()

    for body, field in (
        ({"url": "http://city.example.org/hooks"}, "body.url"),
        ({"url": "ftp://127.0.0.1/hooks"}, "body.url"),
        ({"url": receiver.url, "types": ["audit.created", "audit.exploded"]}, "body.types"),
    ):
        r = await admin.post("/v1/webhooks", json=body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"] == field
    async for reader in client_for(_metrics(), await new_key(engine, Scope.reader)):
        assert (await reader.post("/v1/webhooks", json={"url": receiver.url})).status_code == 403


async def test_events_the_stream_lost_reach_the_webhooks_when_reconciled(
    two: dict[str, Any],  # noqa: F811
    metrics: dict[str, httpx.AsyncClient],
    engine: AsyncEngine,
    redis: Redis,
    receiver: Receiver,
) -> None:
    from services.metrics.projection.commands import reconcile

    await _sync(engine, redis)
    await _subscribe(metrics["admin"], receiver, types=["audit.created"])
    audits = two["admin_audits"]
    lost = await audits.post(
        "/v1/audits", json=factories.audit(two["a"]["partnership"]["id"], two["a"]["neighbourhood"]["id"])
    )  # never relayed: as when Redis loses what it had not yet written to disk
    assert (await reconcile(engine, {"audits": audits})).repaired == 1
    await _deliver_open(engine)
    assert [_body(x)["subject_id"] for x in receiver.attempts] == [lost.json()["id"]]

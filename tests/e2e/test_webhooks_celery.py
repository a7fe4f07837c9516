"""Webhooks end to end: the services, relays and metrics consumer as processes, real Celery workers,
a real receiver checking every signature, on either broker (Redis as in ``make run``, RabbitMQ as in production).

An editor of partnership A subscribes through the metrics API; writes to A and
to B go through the outbox, the relay and the consumer, which enqueues the
deliveries; a worker posts them, retrying with back-off.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import orjson
import pytest

from tests import factories
from tests.cswb_receiver import Receiver
from tests.e2e.conftest import start_platform
from tests.e2e.cswb_processes import BROKERS, CeleryWorld, on_broker, until
from tests.e2e.processes import Platform
from tests.servers import TestServers

pytestmark = pytest.mark.e2e

DISABLE_AFTER = 3


@pytest.fixture(scope="module", params=BROKERS)
def world(servers: TestServers, request: pytest.FixtureRequest) -> Iterator[tuple[Platform, CeleryWorld]]:
    prefix = {"CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-hooks{uuid.uuid4().hex[:6]}"}
    with ExitStack() as resources:  # the RabbitMQ virtual host, dropped last
        platform = start_platform(servers, env=on_broker(prefix, request.param, resources))
        env = platform.env | {
            "CPTED_WEBHOOK_BACKOFF_BASE_S": "0.3",
            "CPTED_WEBHOOK_BACKOFF_MAX_S": "1",
            "CPTED_WEBHOOK_DISABLE_AFTER": str(DISABLE_AFTER),
        }
        celery = CeleryWorld(env, platform.database_url, Receiver("", prefix="X-CPTED", key="id"))  # type: ignore[attr-defined]
        celery.worker("webhooks")
        try:
            yield platform, celery
        finally:
            celery.stop()
            platform.stop()


def _client(platform: Platform, service: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=platform.url(service), headers={"Authorization": f"Bearer {key}"}, timeout=10)


def _create(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _partnership(audits: httpx.Client) -> dict[str, Any]:
    n = _create(audits, "/v1/neighbourhoods", factories.neighbourhood())
    return {"n": n, "p": _create(audits, "/v1/partnerships", factories.partnership([n["id"]]))}


def _editor_key(audits: httpx.Client, partnership_id: str) -> str:
    body = {"name": "city system", "scope": "editor", "partnership_ids": [partnership_id]}
    return str(_create(audits, "/v1/keys", body)["key"])


def _subscribe(metrics: httpx.Client, receiver: Receiver, **body: Any) -> dict[str, Any]:
    created = _create(metrics, "/v1/webhooks", {"url": receiver.start().url, **body})
    receiver.secret = created["secret"]
    return created


async def test_an_editors_webhook_gets_its_partnerships_events_signed_after_retries_and_again_on_redeliver(
    world: tuple[Platform, CeleryWorld],
) -> None:
    platform, _ = world
    admin = _client(platform, "audits", platform.api_key)  # type: ignore[attr-defined]
    a, b = _partnership(admin), _partnership(admin)
    key = _editor_key(admin, a["p"]["id"])
    metrics = _client(platform, "metrics", key)
    receiver = Receiver("", prefix="X-CPTED", key="id", fail_each_first=2)
    try:
        hook = _subscribe(metrics, receiver, types=["audit.created"])
        theirs = _create(admin, "/v1/audits", factories.audit(b["p"]["id"], b["n"]["id"]))
        ours = _create(_client(platform, "audits", key), "/v1/audits", factories.audit(a["p"]["id"], a["n"]["id"]))

        async def delivered() -> bool:
            return any(x.status == 200 for x in receiver.attempts)

        await until(delivered, "the delivery of A's audit")
        await asyncio.sleep(1.5)  # anything else on its way would have arrived by now
        (event_id,) = {x.feed_date for x in receiver.attempts}
        assert receiver.tries(event_id) == [503, 503, 200]
        assert all(x.signature_ok for x in receiver.attempts)
        body = orjson.loads(receiver.attempts[-1].body)
        assert (body["type"], body["subject_id"], body["payload"]["site_name"]) == (
            "audit.created",
            ours["id"],
            ours["site_name"],
        )
        assert theirs["id"].encode() not in b"".join(x.body for x in receiver.attempts)

        (delivery,) = metrics.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
        assert (delivery["state"], delivery["attempts"], delivery["last_status"]) == ("delivered", 3, 200)
        r = metrics.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
        assert r.status_code == 202, r.text

        async def again() -> bool:
            return receiver.tries(event_id)[3:] == [200]

        await until(again, "the redelivery")
        assert receiver.attempts[-1].idempotency_key == event_id
    finally:
        receiver.stop()


async def test_a_receiver_that_keeps_failing_disables_the_webhook(world: tuple[Platform, CeleryWorld]) -> None:
    platform, _ = world
    admin = _client(platform, "audits", platform.api_key)  # type: ignore[attr-defined]
    metrics = _client(platform, "metrics", platform.api_key)  # type: ignore[attr-defined]
    receiver = Receiver("", prefix="X-CPTED", key="id", always_fail=True)
    try:
        hook = _subscribe(metrics, receiver, types=["partnership.created"])
        _partnership(admin)

        async def disabled() -> bool:
            return metrics.get(f"/v1/webhooks/{hook['id']}").json()["enabled"] is False

        await until(disabled, "the webhook being disabled")
        await asyncio.sleep(1.5)  # no attempt after it
        assert [x.status for x in receiver.attempts] == [503] * DISABLE_AFTER
        assert all(x.signature_ok for x in receiver.attempts)

        receiver.always_fail = False
        r = metrics.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
        assert r.status_code == 200 and r.json()["enabled"] is True

        async def delivered() -> bool:
            return receiver.attempts[-1].status == 200

        await until(delivered, "the delivery after turning the webhook back on")
    finally:
        receiver.stop()

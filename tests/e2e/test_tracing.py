"""One write traced across the real processes: the audits service, its relay, the metrics consumer and a Celery
worker (on either broker) each export their spans over OTLP/HTTP, under their own service name, to one
collector, and the spans form one trace from the HTTP request to the webhook delivery the write caused
(docs/tracing.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests import factories
from tests.cswb_receiver import Receiver
from tests.e2e.conftest import start_platform
from tests.e2e.cswb_processes import BROKERS, CeleryWorld, on_broker, until
from tests.e2e.processes import Platform
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.servers import TestServers

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=BROKERS)
def traced(
    servers: TestServers, request: pytest.FixtureRequest
) -> Iterator[tuple[Platform, CeleryWorld, OtlpReceiver]]:
    collector = OtlpReceiver().start()
    env = {
        "CPTED_STREAM_PREFIX": f"{servers.stream_prefix}-traced{uuid.uuid4().hex[:6]}",
        "CPTED_OTLP_ENDPOINT": collector.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export every 0.1 s, not every 5 s
    }
    with ExitStack() as resources:  # the RabbitMQ virtual host, dropped last
        platform = start_platform(servers, env=on_broker(env, request.param, resources))
        celery = CeleryWorld(platform.env, platform.database_url, Receiver("", prefix="X-CPTED", key="id"))  # type: ignore[attr-defined]
        celery.worker("traced")
        try:
            yield platform, celery, collector
        finally:
            celery.stop()
            platform.stop()
            collector.stop()


def _created(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(path, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def _table(spans: list[ReceivedSpan]) -> str:
    names = {s.span_id: f"{s.name} ({s.service})" for s in spans}
    rows = []
    for s in sorted(spans, key=lambda s: s.start_ns):
        statement = " ".join(str(s.attributes.get("db.statement") or "").split())[:50]
        name = f"{s.name}: {statement}" if statement and statement != s.name else s.name
        rows.append(f"{name:<58} {s.service:<13} {names.get(s.parent_id, '-')}")
    return "\n".join(rows)


async def test_one_write_is_one_trace_across_the_service_the_relay_the_consumer_and_a_worker(
    traced: tuple[Platform, CeleryWorld, OtlpReceiver],
) -> None:
    platform, celery, collector = traced
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]
    audits = httpx.Client(base_url=platform.url("audits"), headers=headers, timeout=10)
    metrics = httpx.Client(base_url=platform.url("metrics"), headers=headers, timeout=10)
    n = _created(audits, "/v1/neighbourhoods", factories.neighbourhood())
    p = _created(audits, "/v1/partnerships", factories.partnership([n["id"]]))
    hook = _created(metrics, "/v1/webhooks", {"url": celery.receiver.start().url, "types": ["audit.created"]})
    celery.receiver.secret = hook["secret"]

    _created(audits, "/v1/audits", factories.audit(p["id"], n["id"]))

    def server() -> ReceivedSpan | None:
        return next((s for s in collector.received() if s.name == "POST /v1/audits"), None)

    def services() -> set[str]:
        found = server()
        return {s.service for s in collector.received() if found and s.trace_id == found.trace_id}

    async def all_exported() -> bool:
        return any(x.status == 200 for x in celery.receiver.attempts) and "worker" in services()

    await until(all_exported, "the webhook delivery and every process's spans")
    await asyncio.sleep(0.5)  # the last spans of the worker's task
    root = server()
    assert root is not None
    spans = [s for s in collector.received() if s.trace_id == root.trace_id]
    print(_table(spans))  # the trace of one write, as docs/tracing.md shows it
    assert {"audits", "relay-audits", "consumer", "worker"} <= {s.service for s in spans}

    def one(name: str, service: str) -> ReceivedSpan:
        (found,) = [s for s in spans if s.name == name and s.service == service]
        return found

    create = one("create audits.outbox", "audits")
    publish = one(f"publish {platform.env['CPTED_STREAM_PREFIX']}:audits", "relay-audits")
    apply = one("apply audits", "consumer")
    delivery = one("run/metrics.deliver_webhook", "worker")
    assert root.parent_id == "" and root.service == "audits"
    assert _ancestors(apply, spans)[:2] == [publish, create]
    assert _ancestors(create, spans)[-1] == root
    assert apply in _ancestors(delivery, spans)
    assert publish.attributes["cpted.event.ids"] == apply.attributes["cpted.event.ids"]
    assert any(
        "metrics.counter" in str(s.attributes.get("db.statement", "")) for s in spans if s.parent_id == apply.span_id
    )

"""One trace per write: the HTTP request, its transaction, the outbox, the relay's publish and the consumer's apply
of the event, linked end to end, on real PostgreSQL and Redis with the real relay and consumer (docs/tracing.md)."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import tracing
from shared.logs import JsonFormatter
from shared.settings import get_settings
from tests import factories
from tests.integration.conftest import client_for
from tests.integration.test_bus import _consume_all, _consumer, _relay_all


@pytest.fixture
def spans(engine: AsyncEngine) -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, every finished span kept in memory; the test's engine traced too, wherever an
    earlier test left it."""
    exporter = InMemorySpanExporter()
    assert tracing.install("tests", get_settings(), exporter=exporter)
    tracing.instrument_engine(engine)
    yield exporter
    tracing.uninstall()


@pytest.fixture
async def traced_audits(spans: InMemorySpanExporter, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    from services.audits.app import create_app

    async for client in client_for(create_app(), admin_key):
        yield client


def _server_span(spans: Sequence[ReadableSpan], method: str, route: str) -> ReadableSpan:
    (found,) = [s for s in spans if s.kind is SpanKind.SERVER and s.name == f"{method} {route}"]
    return found


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    (found,) = [s for s in spans if s.name == name]
    return found


def _statement(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    return str(attributes.get("db.statement") or attributes.get("db.query.text") or "")


def _ancestors(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    """The span's parents up to the root of its trace, each found among ``spans``: the chain is intact."""
    by_id = {s.context.span_id: s for s in spans}
    chain = []
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        chain.append(span)
    return chain


def _printable(trace_spans: Sequence[ReadableSpan]) -> str:
    names = {s.context.span_id: s.name for s in trace_spans}
    lines = []
    for s in sorted(trace_spans, key=lambda s: s.start_time or 0):
        parent = names.get(s.parent.span_id, "?") if s.parent else "-"
        label = " ".join(_statement(s).split())[:60] or s.name
        lines.append(f"{label:<62} {s.resource.attributes['service.name']:<8} parent: {parent}")
    return "\n".join(lines)


async def test_one_write_is_one_trace_from_the_request_through_the_relay_to_the_consumers_apply(
    traced_audits: httpx.AsyncClient, spans: InMemorySpanExporter, engine: AsyncEngine, redis: Redis
) -> None:
    n = (await traced_audits.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await traced_audits.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
    consumer = _consumer(engine, redis)
    await _relay_all(redis)
    await _consume_all(consumer)
    spans.clear()

    r = await traced_audits.post("/v1/audits", json=factories.audit(p["id"], n["id"]))
    assert r.status_code == 201, r.text
    assert await _relay_all(redis) == 1
    await _consume_all(consumer)

    finished = spans.get_finished_spans()
    server = _server_span(finished, "POST", "/v1/audits")
    trace_spans = [s for s in finished if s.context.trace_id == server.context.trace_id]
    print(_printable(trace_spans))  # the trace of one write, as docs/tracing.md shows it
    create = _one(trace_spans, "create audits.outbox")
    publish = _one(trace_spans, f"publish {get_settings().stream('audits')}")
    apply = _one(trace_spans, "apply audits")

    assert server.parent is None
    assert apply.parent is not None and apply.parent.span_id == publish.context.span_id
    assert publish.parent is not None and publish.parent.span_id == create.context.span_id
    assert _ancestors(apply, trace_spans) == [publish, create, *_ancestors(create, trace_spans)]
    assert _ancestors(apply, trace_spans)[-1] is server
    assert (create.kind, publish.kind, apply.kind) == (SpanKind.PRODUCER, SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert publish.attributes is not None and publish.attributes["cpted.event.types"] == ("audit.created",)
    assert apply.attributes is not None and apply.attributes["cpted.event.ids"] == publish.attributes["cpted.event.ids"]

    # The transaction's statements under the request, the outbox insert under its span, the totals under the apply.
    def children(parent: ReadableSpan) -> list[ReadableSpan]:
        return [s for s in trace_spans if s.parent and s.parent.span_id == parent.context.span_id]

    assert any("audits.audit" in _statement(s) for s in children(server) + children(create))
    assert any("INSERT INTO audits.outbox" in _statement(s) for s in children(create))
    assert any("metrics.counter" in _statement(s) for s in children(apply))


async def test_a_traced_recommendation_with_a_client_chosen_id_is_created_then_replayed(
    traced_audits: httpx.AsyncClient,
) -> None:
    """The create's replay check reads through the ORM before its prepared write: traced, both run as untraced."""
    n = (await traced_audits.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    p = (await traced_audits.post("/v1/partnerships", json=factories.partnership([n["id"]]))).json()
    a = (await traced_audits.post("/v1/audits", json=factories.audit(p["id"], n["id"]))).json()
    body = factories.recommendation(id="7d0f2a4e-3c1b-4f55-9a8e-0b6c2d1e4f30")

    first = await traced_audits.post(f"/v1/audits/{a['id']}/recommendations", json=body)
    again = await traced_audits.post(f"/v1/audits/{a['id']}/recommendations", json=body)
    plain = await traced_audits.post(f"/v1/audits/{a['id']}/recommendations", json=factories.recommendation())
    claimed = await traced_audits.post(
        f"/v1/audits/{a['id']}/recommendations", json=factories.recommendation(), headers={"Idempotency-Key": "k-1"}
    )

    assert [r.status_code for r in (first, again, plain, claimed)] == [201, 200, 201, 201], first.text
    assert again.json()["id"] == first.json()["id"] == body["id"]


async def test_a_batch_of_several_writes_is_applied_under_a_span_linked_to_each_and_each_trace_ends_applied(
    traced_audits: httpx.AsyncClient, spans: InMemorySpanExporter, engine: AsyncEngine, redis: Redis
) -> None:
    for _ in range(2):
        r = await traced_audits.post("/v1/neighbourhoods", json=factories.neighbourhood())
        assert r.status_code == 201, r.text
    assert await _relay_all(redis) == 2
    await _consume_all(_consumer(engine, redis))

    finished = spans.get_finished_spans()
    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    applies = [s for s in finished if s.name == "apply audits"]
    (batch,) = [s for s in applies if s.parent is None]
    publishes = [s for s in finished if s.name.startswith("publish ")]
    assert len(servers) == len(publishes) == 2
    assert {link.context.span_id for link in batch.links} == {s.context.span_id for s in publishes}
    for server in servers:
        trace_spans = [s for s in finished if s.context.trace_id == server.context.trace_id]
        (own,) = [s for s in trace_spans if s.name == "apply audits"]
        assert _ancestors(own, trace_spans)[-1] is server
        assert [link.context.span_id for link in own.links] == [batch.context.span_id]
    assert any("metrics." in _statement(s) for s in finished if s.parent and s.parent.span_id == batch.context.span_id)


async def test_a_log_line_written_during_a_request_carries_its_trace_and_span_ids(
    traced_audits: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("shared.retention")  # the retention run logs what it removed, during the request
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        r = await traced_audits.post("/v1/retention", params={"dry_run": "true"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert r.status_code == 200, r.text
    (line,) = [json.loads(text) for text in lines.getvalue().splitlines()]
    server = _server_span(spans.get_finished_spans(), "POST", "/v1/retention")
    assert line["msg"].startswith("retention dry run")
    assert (line["trace_id"], line["span_id"]) == (f"{server.context.trace_id:032x}", f"{server.context.span_id:016x}")


OFF = """
import sys
from opentelemetry import trace
from services.audits.app import create_app
from shared import tracing
from shared.settings import get_settings

app = create_app()
assert not tracing.install("relay-audits", get_settings()) and not tracing.install("consumer", get_settings())
# (redis-py imports the SDK's metrics module when it is installed, and starts nothing with it)
loaded = sorted(m for m in sys.modules if m.startswith(("opentelemetry.sdk.trace", "opentelemetry.instrumentation")))
print(type(trace.get_tracer_provider()).__name__, hasattr(app, "_is_instrumented_by_opentelemetry"), loaded)
"""


def test_with_tracing_off_no_tracer_provider_or_instrumentation_is_installed() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "CPTED_OTLP_ENDPOINT"}
    env["PYTHONPATH"] = os.getcwd()
    done = subprocess.run([sys.executable, "-c", OFF], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ProxyTracerProvider", "False", "[]"]


def test_an_endpoint_in_the_settings_or_the_standard_variable_turns_tracing_on(monkeypatch: Any) -> None:
    settings = get_settings()
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.endpoint(settings) is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    assert tracing.endpoint(settings) == "http://collector:4318"
    assert tracing.endpoint(settings.model_copy(update={"otlp_endpoint": "http://tempo:4318"})) == "http://tempo:4318"
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.endpoint(settings) is None

"""Tracing with OpenTelemetry: one trace follows a write from the HTTP request to the totals (docs/tracing.md).

Off unless an OTLP endpoint is configured: ``CPTED_OTLP_ENDPOINT``, or the standard
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``OTEL_SDK_DISABLED=true`` wins over
all). Off, no tracer provider and no instrumentation is installed (nor the tracing SDK imported), and the
hooks the write path calls (``outbox_span``, ``publishing``, ``applying``, ``log_ids``) return at once.

On, ``install`` gives the process a tracer provider named after it (``service.name``: audits, events,
metrics, relay-audits, relay-events, consumer, worker, beat), the instrumentations of Redis, httpx (and
Celery where tasks are sent or run), and an OTLP exporter over HTTP/protobuf; ``instrument_app`` adds
FastAPI's, ``instrument_engine`` SQLAlchemy's to an engine. The context crosses the asynchronous hops inside
the event envelope, as its optional ``traceparent`` and ``tracestate`` (W3C Trace Context):

- the writer stamps its events with the context of a ``create <schema>.outbox`` span, in the write's
  transaction;
- the relay starts a ``publish <stream>`` span per write in its batch, a child of that context, and stamps
  the copy it publishes with the publish span's context;
- the consumer's ``apply <source>`` span is a child of that context when its batch holds one write's events
  (the statements that update the totals are then its children); a batch of several writes' events gets one
  span that links to each of them, and each write's trace still ends with an ``apply <source>`` span of its
  own that links to the batch's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakSet

import orjson
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.contracts.events import Envelope

TRACE_FIELDS = ("traceparent", "tracestate")
"""The envelope's fields that carry the trace context (W3C Trace Context, as CloudEvents' tracing extension)."""
BACKGROUND = ("relay-audits", "relay-events", "consumer")
"""Processes that poll: a span they start on their own (a poll, an XREADGROUP) is no trace worth keeping."""
CELERY = ("metrics", "consumer", "worker", "beat")
"""Processes that send or run Celery tasks."""
NOT_TRACED = "/healthz$,/readyz$,/metrics$"

_W3C = TraceContextTextMapPropagator()
_OFF: AbstractContextManager[Any] = nullcontext()


@dataclass
class _Tracing:
    service: str
    provider: TracerProvider
    tracer: trace.Tracer
    instrumentors: list[Any]
    engines: WeakSet[AsyncEngine] = field(default_factory=WeakSet)


_on: _Tracing | None = None


def endpoint(settings: Settings) -> str | None:
    """Where spans go, or None: tracing is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    return (
        settings.otlp_endpoint
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or None
    )


def enabled() -> bool:
    return _on is not None


def install(service: str, settings: Settings, *, exporter: SpanExporter | None = None) -> bool:
    """Turn tracing on for this process when an endpoint is configured (or an ``exporter`` is given, which
    gets every span as it ends); returns whether it is on. Once per process: a second call keeps the first."""
    global _on
    if _on is not None:
        return True
    url = endpoint(settings)
    if exporter is None and url is None:
        return False
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    resource = Resource.create(
        {"service.name": service, "service.namespace": "cpted", "deployment.environment.name": settings.env}
    )
    # OTEL_TRACES_SAMPLER, when set, is the operator's choice; the polling processes keep only what a write began.
    sampler = (
        ParentBased(root=_linked_roots()) if service in BACKGROUND and "OTEL_TRACES_SAMPLER" not in os.environ else None
    )
    provider = TracerProvider(resource=resource, sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)  # for libraries that trace through the global provider
    _on = _Tracing(service, provider, provider.get_tracer("cpted"), _instrument(service, provider))
    from shared.db.engine import open_engines

    for engine in open_engines():
        instrument_engine(engine)
    return True


def _otlp_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # CPTED_OTLP_ENDPOINT is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT; without it the exporter reads those.
    if settings.otlp_endpoint:
        return OTLPSpanExporter(endpoint=settings.otlp_endpoint.rstrip("/") + "/v1/traces")
    return OTLPSpanExporter()


def _instrument(service: str, provider: TracerProvider) -> list[Any]:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    done: list[Any] = []
    for instrumentor in (RedisInstrumentor(), HTTPXClientInstrumentor()):
        instrumentor.instrument(tracer_provider=provider)
        done.append(instrumentor)
    if service in CELERY:
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        celery = CeleryInstrumentor()
        celery.instrument(tracer_provider=provider)
        done.append(celery)
    return done


def instrument_engine(engine: AsyncEngine) -> None:
    """A span per statement the engine runs, when tracing is on.

    The engines are given one by one: SQLAlchemy's instrumentor only sees the engines made through the
    ``create_engine`` it wraps, not those made by code that imported ``create_async_engine`` before it
    (all of the platform's). Its engine tracer works with SQLAlchemy 2.1, whose events are unchanged,
    although the package declares SQLAlchemy < 2.1."""
    if _on is None or engine in _on.engines:
        return
    from opentelemetry import metrics
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    scope = "opentelemetry.instrumentation.sqlalchemy"
    # The connection-pool gauge goes to the global meter provider, which the platform leaves unset (Prometheus
    # serves its metrics): it records nothing.
    usage = metrics.get_meter(scope).create_up_down_counter("db.client.connections.usage", unit="connections")
    EngineTracer(_on.provider.get_tracer(scope), engine.sync_engine, usage)
    _on.engines.add(engine)


def uninstall() -> None:
    """Turn tracing off again: the instrumentations removed, the spans still queued exported."""
    global _on
    if _on is None:
        return
    for instrumentor in _on.instrumentors:
        instrumentor.uninstrument()
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    EngineTracer.remove_all_event_listeners()
    _on.provider.shutdown()
    _on = None


def instrument_app(app: FastAPI) -> None:
    """A server span per request (none for health and metrics), when tracing is on."""
    if _on is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=_on.provider, excluded_urls=NOT_TRACED, exclude_spans=["receive", "send"]
    )


def connect_celery(settings: Callable[[], Settings]) -> None:
    """Tracing for the Celery worker (in each pool process, after the fork) and for the beat."""
    from celery import signals

    def worker(**_: Any) -> None:
        install("worker", settings())

    def unforked_worker(sender: Any = None, **_: Any) -> None:
        # A prefork pool's processes start theirs in worker_process_init: a provider made before the fork
        # would lose its export thread in the children.
        if "prefork" not in str(getattr(sender, "pool_cls", "prefork")):
            install("worker", settings())

    def beat(**_: Any) -> None:
        install("beat", settings())

    signals.worker_process_init.connect(worker, weak=False)
    signals.worker_init.connect(unforked_worker, weak=False)
    signals.beat_init.connect(beat, weak=False)


def log_ids() -> tuple[str, str] | None:
    """The trace and span ids of the active span, for a log line; None when off or outside any span."""
    if _on is None:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


# --- the write's hops -----------------------------------------------------------------------------------


def outbox_span(schema: str, envelopes: Sequence[dict[str, Any]]) -> AbstractContextManager[Any]:
    """Around the outbox insert: a ``create`` span whose context each envelope (as stored) is stamped with."""
    if _on is None:
        return _OFF
    return _creating(_on.tracer, schema, envelopes)


@contextmanager
def _creating(tracer: trace.Tracer, schema: str, envelopes: Sequence[dict[str, Any]]) -> Iterator[Span]:
    attributes = _messaging("create", f"{schema}.outbox", envelopes)
    with tracer.start_as_current_span(f"create {schema}.outbox", kind=SpanKind.PRODUCER, attributes=attributes) as span:
        carrier = _carrier(span)
        for envelope in envelopes:
            envelope.update(carrier)
        yield span


def publishing(
    stream: str, texts: Sequence[str], parsed: Sequence[dict[str, Any]] | None = None
) -> AbstractContextManager[list[Any]]:
    """Around the XADD of a batch of outbox rows' envelopes (``texts``, as stored; ``parsed``, the same
    envelopes parsed, when the caller has them): gives the envelopes to publish, the texts when off.

    On: a ``publish`` span per write (per trace context the rows carry), a child of the write's context, and
    each envelope stamped with its publish span's context, so that the consumer's span follows the relay's."""
    if _on is None:
        return nullcontext(list(texts))
    return _publishing(_on.tracer, stream, texts, parsed)


@contextmanager
def _publishing(
    tracer: trace.Tracer, stream: str, texts: Sequence[str], parsed: Sequence[dict[str, Any]] | None
) -> Iterator[list[Any]]:
    envelopes: list[Any] = list(texts)
    writes: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for i, envelope in enumerate(parsed if parsed is not None else map(orjson.loads, texts)):
        if envelope.get("traceparent"):
            writes.setdefault(_key(envelope), []).append((i, envelope))
    spans = []
    for (traceparent, tracestate), stamped in writes.items():
        parent = _W3C.extract({"traceparent": traceparent, "tracestate": tracestate})
        attributes = _messaging("send", stream, [envelope for _, envelope in stamped])
        span = tracer.start_span(f"publish {stream}", parent, kind=SpanKind.PRODUCER, attributes=attributes)
        carrier = _carrier(span)
        for i, envelope in stamped:
            envelopes[i] = orjson.dumps(envelope | carrier)
        spans.append(span)
    with _ending(spans):
        yield envelopes


def applying(events: Sequence[Envelope]) -> AbstractContextManager[Any]:
    """Around the consumer's apply of a batch (one transaction): see the module's docstring."""
    if _on is None:
        return _OFF
    return _applying(_on.tracer, events)


@contextmanager
def _applying(tracer: trace.Tracer, events: Sequence[Envelope]) -> Iterator[Span]:
    writes: dict[tuple[str, str], list[Envelope]] = {}
    for event in events:
        if event.traceparent:
            writes.setdefault((event.traceparent, event.tracestate or ""), []).append(event)
    name = f"apply {events[0].source}" if events else "apply"
    attributes = _messaging("process", None, [e.model_dump(include={"id", "type"}) for e in events])
    if len(writes) == 1:
        ((traceparent, tracestate),) = writes
        parent = _W3C.extract({"traceparent": traceparent, "tracestate": tracestate})
        with tracer.start_as_current_span(name, parent, kind=SpanKind.CONSUMER, attributes=attributes) as span:
            yield span
        return
    # Events of several writes (or of none traced), applied in one transaction: one span linked to each.
    links = [Link(trace.get_current_span(_W3C.extract({"traceparent": p, "tracestate": s})).get_span_context())
             for p, s in writes]  # fmt: skip
    with tracer.start_as_current_span(
        name, trace.set_span_in_context(trace.INVALID_SPAN), kind=SpanKind.CONSUMER, attributes=attributes, links=links
    ) as batch:
        batch_link = [Link(batch.get_span_context())]
        own = [
            tracer.start_span(
                name,
                _W3C.extract({"traceparent": p, "tracestate": s}),
                kind=SpanKind.CONSUMER,
                attributes=_messaging("process", None, [e.model_dump(include={"id", "type"}) for e in mine]),
                links=batch_link,
            )
            for (p, s), mine in writes.items()
        ]
        with _ending(own):
            yield batch


@contextmanager
def _ending(spans: Sequence[Span]) -> Iterator[None]:
    """End the spans when the block ends, marked failed if it raised."""
    try:
        yield
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        raise
    finally:
        for span in spans:
            span.end()


def _carrier(span: Span) -> dict[str, str]:
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, trace.set_span_in_context(span))
    return carrier


def _key(envelope: Mapping[str, Any]) -> tuple[str, str]:
    return str(envelope["traceparent"]), str(envelope.get("tracestate") or "")


def _messaging(operation: str, destination: str | None, envelopes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": "redis",
        "messaging.operation.type": operation,
        "messaging.batch.message_count": len(envelopes),
        "cpted.event.ids": [str(e["id"]) for e in envelopes],
        "cpted.event.types": sorted({str(e["type"]) for e in envelopes}),
    }
    if destination:
        attributes["messaging.destination.name"] = destination
    return attributes


def _linked_roots() -> Sampler:
    """A root sampler that keeps the roots linked to other traces (a batch of several writes) and drops the rest."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class LinkedRoots(Sampler):
        def should_sample(
            self, parent_context: Any, trace_id: int, name: str, kind: Any = None, attributes: Any = None,
            links: Sequence[Link] | None = None, trace_state: Any = None,
        ) -> SamplingResult:  # fmt: skip
            if links:
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
            return SamplingResult(Decision.DROP)

        def get_description(self) -> str:
            return "LinkedRoots"

    return LinkedRoots()

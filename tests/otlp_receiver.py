"""An OTLP/HTTP trace receiver on 127.0.0.1, as a collector (Jaeger, Tempo, an OpenTelemetry Collector) would be:
it decodes every export of spans (protobuf) and keeps each span with the service that sent it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.http_receiver import serve_posts, stop


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    """Empty for a root."""
    kind: int
    attributes: dict[str, Any]
    links: tuple[str, ...]
    """The span ids it links to."""
    start_ns: int


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(v) for v in any_value.array_value.values)
    return getattr(any_value, kind) if kind else None


@dataclass
class OtlpReceiver:
    spans: list[ReceivedSpan] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        """The base URL, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``CPTED_OTLP_ENDPOINT`` takes it."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def _take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        ReceivedSpan(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            links=tuple(link.span_id.hex() for link in span.links),
                            start_ns=span.start_time_unix_nano,
                        )
                    )
        with self._lock:
            self.spans.extend(found)

    def _answer(self, path: str, _headers: Any, body: bytes) -> tuple[int, str, bytes]:
        if path != "/v1/traces":
            return 404, "text/plain", b"not found"
        self._take(body)
        return 200, "application/x-protobuf", ExportTraceServiceResponse().SerializeToString()

    def start(self) -> OtlpReceiver:
        self._server = serve_posts(self._answer)
        return self

    def stop(self) -> None:
        stop(self._server)

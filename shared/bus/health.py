"""Liveness of the worker processes (relays, the metrics consumer): a heartbeat and a tiny HTTP server.

The worker's loop beats on every round, including rounds that only wait for
Redis or the database (a restart would not bring them back). The server runs
in its own thread, so a busy loop still answers; a loop that stopped turning
stops beating and ``/healthz`` turns 503. ``/metrics`` serves the process's
Prometheus metrics.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class Heartbeat:
    def __init__(self, max_age_s: float) -> None:
        self.max_age_s = max_age_s
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def age(self) -> float:
        return time.monotonic() - self.last

    def alive(self) -> bool:
        return self.age() < self.max_age_s


def serve_health(host: str, port: int, heartbeat: Heartbeat, name: str) -> ThreadingHTTPServer:
    """Start answering ``/healthz`` and ``/metrics`` on ``host:port`` in a daemon thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/healthz":
                alive = heartbeat.alive()
                body = f'{{"status": "{"ok" if alive else "stalled"}", "service": "{name}", '
                body += f'"last_beat_s": {heartbeat.age():.1f}}}'
                self._answer(200 if alive else 503, body.encode(), "application/json")
            elif self.path == "/metrics":
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
            else:
                self._answer(404, b'{"status": "not found"}', "application/json")

        def _answer(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: not worth a log line
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"{name}-health", daemon=True).start()
    return server

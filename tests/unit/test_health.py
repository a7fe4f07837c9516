"""The workers' heartbeat server: 200 while the loop beats, 503 once it has stalled, from its own thread."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from shared.bus.health import Heartbeat, serve_health
from tests.servers import free_port


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_heartbeat_answers_200_while_beating_and_503_once_stalled() -> None:
    heartbeat = Heartbeat(max_age_s=30)
    port = free_port()
    server = serve_health("127.0.0.1", port, heartbeat, "relay-audits")
    try:
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["service"] == "relay-audits"
        heartbeat.last = time.monotonic() - 31  # the loop has not come round for longer than allowed
        status, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert status == 503 and json.loads(body)["status"] == "stalled"
        heartbeat.beat()
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and b"# HELP" in body
    finally:
        server.shutdown()

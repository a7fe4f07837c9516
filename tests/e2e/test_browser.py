"""A front end on another origin, in a real browser: headless Chromium reads, writes with an
Idempotency-Key, sees the replay, and makes a conditional GET against the audits service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.auth.keys import Scope
from tests.e2e.conftest import _issue_key
from tests.e2e.processes import Platform
from tests.servers import TestServers, free_port, fresh_database

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!doctype html><html><body><pre id="out">pending</pre><script>
(async () => {
  const api = "%(api)s", auth = {"Authorization": "Bearer %(key)s"};
  const json = {...auth, "Content-Type": "application/json"};
  const body = JSON.stringify({
    name: "Browser Ward", municipality: "Testville",
    boundary: {type: "Polygon", coordinates: [[[-79.40, 43.65], [-79.39, 43.65], [-79.39, 43.66], [-79.40, 43.65]]]}
  });
  const post = () => fetch(api + "/v1/neighbourhoods",
    {method: "POST", headers: {...json, "Idempotency-Key": "%(idempotency_key)s"}, body});
  const out = {};
  const created = await post();
  out.created = created.status;
  out.location = created.headers.get("Location");
  const record = await created.json();
  const again = await post();
  out.repeat = again.status;
  out.replayed = again.headers.get("Idempotent-Replayed");
  out.same_id = (await again.json()).id === record.id;
  const read = await fetch(api + "/v1/neighbourhoods/" + record.id, {headers: auth, cache: "no-store"});
  out.read = read.status;
  out.etag = read.headers.get("ETag");
  const conditional = await fetch(api + "/v1/neighbourhoods/" + record.id,
    {headers: {...auth, "If-None-Match": out.etag}, cache: "no-store"});
  out.conditional = conditional.status;
  document.getElementById("out").textContent = JSON.stringify(out);
})().catch(e => { document.getElementById("out").textContent = "error: " + e; });
</script></body></html>"""


@pytest.fixture(scope="module")
def page_origin() -> Iterator[tuple[str, dict[str, bytes]]]:
    pages: dict[str, bytes] = {}

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, b"")
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pages
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def audits_for(servers: TestServers, page_origin: tuple[str, dict[str, bytes]]) -> Iterator[Platform]:
    origin, _ = page_origin
    database_url = fresh_database(servers, f"browser{uuid.uuid4().hex[:6]}")
    platform = Platform(
        dict(os.environ) | {"CPTED_DATABASE_URL": database_url, "CPTED_CORS_ORIGINS": json.dumps([origin])}
    )
    platform.api_key = _issue_key(database_url, Scope.admin)  # type: ignore[attr-defined]
    platform.start_service("audits")
    try:
        platform.wait_ready()
        yield platform
    finally:
        platform.stop()


def test_a_front_end_on_another_origin_reads_writes_and_revalidates(
    audits_for: Platform, page_origin: tuple[str, dict[str, bytes]]
) -> None:
    if CHROMIUM is None:
        if os.environ.get("CPTED_REQUIRE_BROWSER"):
            pytest.fail("Chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    origin, pages = page_origin
    pages["/"] = (
        PAGE
        % {
            "api": audits_for.url("audits"),
            "key": audits_for.api_key,  # type: ignore[attr-defined]
            "idempotency_key": uuid.uuid4().hex,
        }
    ).encode()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--virtual-time-budget=30000"]
    run = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", f"{origin}/"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = run.stdout
    result = dom.split('<pre id="out">', 1)[1].split("</pre>", 1)[0]
    assert result.startswith("{"), (result, run.stderr[-2000:])
    seen = json.loads(result)
    assert seen["created"] == 201
    assert seen["location"] and seen["location"].startswith("/v1/neighbourhoods/")
    assert (seen["repeat"], seen["replayed"], seen["same_id"]) == (201, "true", True)
    assert seen["read"] == 200 and seen["etag"]
    assert seen["conditional"] == 304

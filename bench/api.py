"""API write throughput (create a recommendation: auth, validation, outbox) against a bare endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson

from bench import database_limit
from bench.common import Figure
from bench.load import Request, closed_loop, request_bytes
from bench.servers import serving
from shared.settings import get_settings

SECONDS = 8
CONNECTIONS = 16


def _setup(port: int, key: str) -> dict[str, Any]:
    """A neighbourhood, a partnership and an audit of theirs; returns the audit."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as api:
        ring = [[-83.0, 42.3], [-82.99, 42.3], [-82.99, 42.31], [-83.0, 42.3]]
        n = api.post(
            "/v1/neighbourhoods",
            json={"name": "Bench", "municipality": "Windsor", "boundary": {"type": "Polygon", "coordinates": [ring]}},
        ).json()
        p = api.post(
            "/v1/partnerships",
            json={"name": f"Bench partnership {uuid.uuid4()}", "police_service": "WPS", "neighbourhood_ids": [n["id"]]},
        ).json()
        a = api.post(
            "/v1/audits",
            json={
                "partnership_id": p["id"],
                "neighbourhood_id": n["id"],
                "site_name": "Bench",
                "conducted_on": "2025-01-01",
            },
        ).json()
        return dict(a)


async def write_figures(key: str, servers: list[str], database_url: str) -> list[Figure]:
    body = orjson.dumps({"category": "lighting", "description": "Install LED lighting along the alley"})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    figures: list[Figure] = []
    # The API's processes (CPTED_API_WORKERS, as `cpted run` takes them) and, for a fair ratio, the echo's too.
    processes = get_settings().api_workers
    workers = f", {processes} workers" if processes > 1 else ""
    for server in servers:
        with serving("bench.bare_app:create_app", server, workers=processes) as port:
            echo = Request("echo", port, request_bytes("POST", "/v1/echo", body, headers))
            baseline = await closed_loop(echo, CONNECTIONS, SECONDS)
        with serving("services.audits.app:create_app", server, workers=processes, health="/healthz") as port:
            audit_id = _setup(port, key)["id"]
            write = Request(
                "write", port, request_bytes("POST", f"/v1/audits/{audit_id}/recommendations", body, headers)
            )
            ours = await closed_loop(write, CONNECTIONS, SECONDS)
        if server == servers[0]:
            limit = await database_limit.transactions_per_s(database_url, audit_id, CONNECTIONS, SECONDS)
            figures.append(
                Figure(
                    f"API write rps ({server}{workers}) vs the database's limit",
                    ours.achieved,
                    "req/s",
                    limit,
                    f"pgbench: the same row and outbox INSERTs per transaction, {CONNECTIONS} connections",
                    ">= 50%",
                    ours.achieved >= 0.5 * limit,
                    samples=len(ours.ok()),
                    failures=ours.failures(),
                )
            )
        figures.append(
            Figure(
                f"API write rps ({server}{workers})",
                ours.achieved,
                "req/s",
                baseline.achieved,
                f"bare FastAPI echo on {server}" + (f", {processes} workers as the API" if workers else ""),
                ">= 30%",
                ours.achieved >= 0.3 * baseline.achieved,
                samples=len(ours.ok()),
                failures=ours.failures(),
            )
        )
    return figures

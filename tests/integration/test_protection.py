"""Limits a hostile or runaway client runs into: body size, rate, time; and the headers every answer carries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest
from fastapi import APIRouter
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.auth.keys import Scope
from shared.settings import get_settings
from shared.web import ratelimit
from shared.web.app import create_service_app
from shared.web.ratelimit import RateLimiter
from tests.integration.conftest import client_for, new_key

slow = APIRouter()


@slow.get("/v1/slow")
async def slow_route() -> dict[str, str]:
    await asyncio.sleep(2)
    return {"status": "late"}


@slow.post("/v1/echo")
async def echo(body: dict[str, str]) -> dict[str, str]:
    return body


@pytest.fixture
def tight_limits() -> Iterator[None]:
    settings = get_settings()
    saved = settings.model_copy()
    settings.rate_limit_per_second = 5
    settings.max_body_bytes = 1000
    settings.request_timeout_s = 0.3
    settings.cors_origins = ["https://front.example.org"]
    yield
    for field in ("rate_limit_per_second", "max_body_bytes", "request_timeout_s", "cors_origins"):
        setattr(settings, field, getattr(saved, field))


@pytest.fixture
async def api(engine: AsyncEngine, clean: None, tight_limits: None) -> AsyncIterator[httpx.AsyncClient]:
    key = await new_key(engine, Scope.reader)
    app = create_service_app(name="probe", title="probe", routers=[slow])
    async for client in client_for(app, key):
        yield client


async def test_an_oversized_body_is_413(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/echo", json={"text": "x" * 2000})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b'{"t": "' + b"x" * 200 + b'"}'

    r = await api.post("/v1/echo", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


async def test_a_key_past_its_rate_gets_429_with_retry_after(api: httpx.AsyncClient) -> None:
    answers = [(await api.post("/v1/echo", json={"n": str(i)})).status_code for i in range(12)]
    assert answers.count(429) >= 1
    assert answers[:5] == [200] * 5 or 429 in answers[:5]  # a window may roll over mid-burst
    limited = await api.post("/v1/echo", json={})
    if limited.status_code == 429:
        assert limited.headers["retry-after"] == "1"


async def test_a_request_that_takes_too_long_is_cut_off(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/slow")
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"


async def test_security_and_cors_headers(api: httpx.AsyncClient) -> None:
    r = await api.get("/healthz", headers={"Origin": "https://front.example.org"})
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["access-control-allow-origin"] == "https://front.example.org"
    assert "access-control-allow-credentials" not in r.headers
    other = await api.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


async def test_a_browser_preflight_for_a_conditional_or_idempotent_request_passes(api: httpx.AsyncClient) -> None:
    for method, header in (("GET", "if-none-match"), ("POST", "idempotency-key"), ("PATCH", "if-match")):
        preflight = await api.options(
            "/v1/echo",
            headers={
                "Origin": "https://front.example.org",
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": f"authorization,content-type,{header}",
            },
        )
        assert preflight.status_code == 200, (method, header, preflight.text)
        assert header in preflight.headers["access-control-allow-headers"].lower()
    answer = await api.get("/healthz", headers={"Origin": "https://front.example.org"})
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"etag", "location", "idempotent-replayed", "retry-after"} <= exposed


async def test_development_origins_on_any_local_port_are_allowed() -> None:
    from cpted.dev import LOCAL_ORIGINS

    settings = get_settings()
    saved = settings.model_copy()
    settings.cors_origin_regex = LOCAL_ORIGINS
    try:
        app = create_service_app(name="probe", title="probe", routers=[slow])
        async for client in client_for(app, None):
            for origin, allowed in (
                ("http://localhost:5173", True),
                ("http://127.0.0.1:3000", True),
                ("http://localhost", True),
                ("http://localhost.evil.example", False),
                ("https://front.example.org", False),
            ):
                answer = await client.get("/healthz", headers={"Origin": origin})
                assert (answer.headers.get("access-control-allow-origin") == origin) is allowed, origin
    finally:
        settings.cors_origin_regex = saved.cors_origin_regex


async def test_processes_sharing_a_key_admit_no_more_than_its_limit_and_ask_redis_once_a_lease(
    redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three processes (limiters) serve one key at 100 requests per second: each takes leases of 5 from the
    window's count in Redis, so the window admits at most 100 over all of them and little less (a process loses
    at most 4 it leased and did not use); past the limit each refuses without asking Redis again; the next
    window starts afresh."""
    now = [1_700_000_000.25]
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: now[0]))
    token = f"cpted_{uuid.uuid4().hex}".encode()
    processes = [RateLimiter(100) for _ in range(3)]
    commands = 0
    original = RateLimiter._take_lease

    async def counted(self: RateLimiter, redis: Redis, key: str, window: int) -> int:
        nonlocal commands
        commands += 1
        return await original(self, redis, key, window)

    monkeypatch.setattr(RateLimiter, "_take_lease", counted)
    refused = [await processes[i % 3].refuses(redis, token) for i in range(200)]
    admitted = refused.count(False)
    assert 100 - 3 * 4 <= admitted <= 100
    assert refused[-30:] == [True] * 30  # all three know the window is used up
    assert commands <= admitted / 5 + 3 * 2  # one lease per 5 requests, and one refusal per process
    now[0] += 1
    assert not await processes[0].refuses(redis, token)  # a new window


async def test_with_redis_away_the_rate_limit_admits_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    away = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RateLimiter(5)
    assert [await limiter.refuses(away, b"cpted_key") for _ in range(20)] == [False] * 20
    await away.aclose()

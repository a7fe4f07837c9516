"""The app factory every service uses: lifespan, middleware, errors, health, metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy import Table

from shared import tracing
from shared.auth.keys import KeyVerifier
from shared.auth.oidc import TokenVerifier
from shared.bus.client import redis_client
from shared.bus.health import CHECK_TIMEOUT_S, run_checks, unavailable, within
from shared.bus.wake import Waker, wake_channel
from shared.db.engine import get_engine, ping
from shared.heap import startup_heap_frozen
from shared.settings import get_settings
from shared.web import problems
from shared.web.conditional import ConditionalGetMiddleware
from shared.web.docs import install_docs
from shared.web.idempotency import IdempotencyMiddleware
from shared.web.inputs import checked_input
from shared.web.middleware import EdgeMiddleware, SecurityHeadersMiddleware, TimeoutMiddleware
from shared.web.openapi import document_problems

log = logging.getLogger("cpted.http")

CORS_REQUEST_HEADERS = [
    "Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID", "Accept-Language",
    "Prefer",
]  # fmt: skip
CORS_EXPOSED_HEADERS = [
    "ETag", "Location", "X-Request-ID", "Retry-After", "Idempotent-Replayed", "Content-Language", "Content-Disposition",
    "Log-Next-After", "Log-Waiting",
]  # fmt: skip

Hook = Callable[[FastAPI], Awaitable[None]]
Readiness = Callable[[FastAPI], Awaitable[dict[str, str]]]


class ReadyState(BaseModel):
    """Whether the service can serve: each check is ``ok`` or ``unavailable: <reason>``."""

    status: Literal["ready", "not-ready"]
    service: str
    checks: dict[str, str] = Field(description="`database`, `redis` and the service's own checks")


class Liveness(BaseModel):
    status: Literal["ok"]
    service: str


"""A service's own readiness checks: name -> "ok" or why not."""

# What an APIRoute keeps of its declaration, passed again when it is registered on the app.
_DECLARED = (
    "response_model", "status_code", "tags", "dependencies", "summary", "description", "response_description",
    "responses", "deprecated", "methods", "operation_id", "response_model_include", "response_model_exclude",
    "response_model_by_alias", "response_model_exclude_unset", "response_model_exclude_defaults",
    "response_model_exclude_none", "include_in_schema", "response_class", "name", "callbacks", "openapi_extra",
    "strict_content_type", "max_body_size", "form_limits",
)  # fmt: skip


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's routes, registered on the app itself with the app's dependencies and operation ids.

    ``include_router`` would keep the router as a nested node that FastAPI resolves again on every request;
    routes on the app are matched directly. Routers here hold plain API routes, already carrying their prefix.
    """
    for route in router.routes:
        assert isinstance(route, APIRoute), f"{route!r}: only API routes are registered flat"
        app.router.add_api_route(route.path, route.endpoint, **{name: getattr(route, name) for name in _DECLARED})


def create_service_app(
    *,
    name: str,
    title: str,
    routers: Sequence[APIRouter],
    body_limits: Mapping[str, int] | None = None,
    slow_routes: Mapping[str, float] | None = None,
    idempotency: Table | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    readiness: Sequence[Readiness] = (),
    description: str = "",
) -> FastAPI:
    settings = get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.clock = settings.clock()
        app.state.engine = get_engine(settings)
        app.state.redis = redis_client(settings)
        # A producing service's name is its event source: its commits wake the relays of its stream.
        app.state.relay_waker = Waker(app.state.redis, wake_channel(settings.stream(name)))
        app.state.key_verifier = KeyVerifier(app.state.engine)
        app.state.token_verifier = TokenVerifier(settings) if settings.oidc_enabled else None
        for hook in on_startup:
            await hook(app)
        try:
            with startup_heap_frozen(settings.heap_freeze):
                yield
        finally:
            for hook in on_shutdown:
                await hook(app)
            await app.state.redis.aclose()
            await app.state.engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Operation ids are the handlers' names (``create_recommendation``), unique per service, so generated
        # clients get readable method names.
        generate_unique_id_function=lambda route: route.name,
        dependencies=[Depends(checked_input)],
        # Requests are traced by the platform's own instrumentation, when tracing is on (shared.tracing); FastAPI's
        # native telemetry would otherwise look its providers up again on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # Added innermost first: headers and CORS wrap everything, the timeout sits closest to the routes.
    app.add_middleware(ConditionalGetMiddleware)
    app.add_middleware(TimeoutMiddleware, seconds=settings.request_timeout_s, overrides=slow_routes or {})
    if idempotency is not None:
        app.add_middleware(
            IdempotencyMiddleware, table=idempotency, recover_after_s=settings.idempotency_recover_after_s
        )
    # Outside everything that may wait (the database, a task); inside what only adds headers.
    app.add_middleware(
        EdgeMiddleware,
        service=name,
        per_second=settings.rate_limit_per_second,
        max_bytes=settings.max_body_bytes,
        body_limits=body_limits or {},
    )
    if settings.cors_origins or settings.cors_origin_regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_origin_regex=settings.cors_origin_regex,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,
        )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.hsts)
    problems.install(app)
    for router in routers:
        add_routes(app, router)
    document_problems(
        app,
        server_url=getattr(settings, f"{name}_url", None),
        oidc_issuer=settings.oidc_issuer,
        idempotent_posts=idempotency is not None,
    )
    install_docs(app)
    if tracing.install(name, settings):
        tracing.instrument_app(app)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process runs (answered before any middleware)")
    async def healthz() -> Liveness:  # documents what EdgeMiddleware answers
        return Liveness(status="ok", service=name)

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: database and Redis reachable, the service's own checks",
        response_model=ReadyState,
        responses={503: {"model": ReadyState, "description": "Not ready: see the checks; Retry-After says when"}},
    )
    async def readyz(request: Request) -> Response:
        state = request.app.state

        async def database() -> None:
            await ping(state.engine)

        async def redis() -> None:
            await state.redis.ping()

        async def own(check: Any) -> dict[str, str]:
            try:
                return dict(await within(check(request.app), CHECK_TIMEOUT_S))
            except Exception as exc:
                return {getattr(check, "__name__", "check"): unavailable(exc)}

        checks: dict[str, Any] = await run_checks({"database": database, "redis": redis})
        for found in await asyncio.gather(*(own(check) for check in readiness)):
            checks.update(found)
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "service": name, "checks": checks},
            status_code=200 if ready else 503,
            headers=None if ready else {"Retry-After": "5"},
        )

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app

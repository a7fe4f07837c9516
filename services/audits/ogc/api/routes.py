"""OGC API - Features - Part 1: Core under ``/ogc``: what a GIS (QGIS, ArcGIS, GDAL) adds as layers.

No key is needed; a reader or admin key in ``Authorization: Bearer`` also
shows the recommendation categories hidden from the public. Errors are the
standard's exception document ``{code, description}``. The standard's own
OpenAPI 3.0 definition is at ``/ogc/api`` (this service's ``/openapi.json`` is 3.1).
The collections ``events`` and ``incident-counts`` are read from the events and
metrics services at request time (see ``services/audits/ogc/store/upstream.py``).
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response, Security
from fastapi.responses import HTMLResponse

from services.audits.deps import ReadingUowDep, optional_principal
from services.audits.ogc.api.openapi import document
from services.audits.ogc.domain.standard import (
    GEOJSON,
    JSON,
    OPENAPI,
    OgcError,
    acceptable,
    check_params,
)
from services.audits.ogc.handlers import capabilities
from services.audits.ogc.handlers import collections as handlers
from services.audits.ogc.store.upstream import Sources, sources
from shared.auth.keys import bearer_token, optional_key_scheme
from shared.errors import RETRY_AFTER_S, Problem, Unauthorized, Unavailable
from shared.web.docs import swagger_page
from shared.web.http import ClockDep

# Described by the standard's own OpenAPI 3.0 definition at /ogc/api (the landing page's service-desc), which is
# what OGC clients read; this service's /openapi.json leaves them out rather than describe them twice.
router = APIRouter(
    prefix="/ogc",
    tags=["OGC API - Features"],
    dependencies=[Security(optional_key_scheme)],
    include_in_schema=False,
)


async def _answer(
    request: Request, media: str, work: Callable[[], Awaitable[Any]], offered: Sequence[str] = ()
) -> Response:
    try:
        if not acceptable(request.headers.get("accept"), [media, JSON, *offered]):
            raise OgcError(406, "NotAcceptable", f"this resource is served as {media}")
        return Response(orjson.dumps(await work()), media_type=media)
    except OgcError as error:
        retry = {"Retry-After": str(RETRY_AFTER_S)} if error.status == 503 else None
        return Response(orjson.dumps(error.body()), status_code=error.status, media_type=JSON, headers=retry)
    except Unauthorized as problem:
        return Response(orjson.dumps({"code": "Unauthorized", "description": problem.detail}), 401, media_type=JSON)
    except Unavailable as problem:
        body = {"code": "ServiceUnavailable", "description": problem.detail}
        return Response(orjson.dumps(body), 503, media_type=JSON, headers={"Retry-After": str(RETRY_AFTER_S)})
    except Problem as problem:  # e.g. a cursor this API never issued
        status = 404 if problem.status == 404 else 400
        body = {"code": "NotFound" if status == 404 else "InvalidParameterValue", "description": problem.detail}
        return Response(orjson.dumps(body), status_code=status, media_type=JSON)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _params(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _sources(request: Request, as_caller: bool) -> Sources:
    """The events and metrics services, asked with the caller's key (already verified) or the service key."""
    callers_key = bearer_token(request) if as_caller and "authorization" in request.headers else None
    return sources(request.app.state.upstream_clients, callers_key, request.app.state.settings.service_api_key)


async def _asked(request: Request) -> handlers.Asked:
    principal = await optional_principal(request)  # a key sent must be valid before it is passed on
    state = request.app.state
    sources = _sources(request, as_caller=True)
    return handlers.Asked(principal, sources, _params(request), request.url, state.audits_settings, state.clock)


@router.get("/", summary="Landing page")
async def landing(request: Request) -> Response:
    async def work() -> Any:
        check_params(request.query_params, {"f"})
        return capabilities.landing(_base(request))

    return await _answer(request, JSON, work)


@router.get("")
async def landing_without_slash(request: Request) -> Response:
    return await landing(request)


@router.get("/conformance", summary="Conformance classes")
async def conformance(request: Request) -> Response:
    async def work() -> Any:
        check_params(request.query_params, {"f"})
        return capabilities.conformance()

    return await _answer(request, JSON, work)


@router.get("/api", summary="The OpenAPI 3.0 definition of /ogc")
async def api_definition(request: Request) -> Response:
    async def work() -> Any:
        return document(str(request.base_url).rstrip("/"))

    return await _answer(request, OPENAPI, work)


@router.get("/api.html", summary="The definition of /ogc as a page", response_class=HTMLResponse)
async def api_page(request: Request) -> HTMLResponse:
    return swagger_page(request, "/ogc/api", "CPTED audits - OGC API - Features")


@router.get("/collections", summary="Feature collections")
async def collections(request: Request, uow: ReadingUowDep, clock: ClockDep) -> Response:
    async def work() -> Any:
        check_params(request.query_params, {"f"})
        return await handlers.collections(uow, _sources(request, as_caller=False), _base(request), clock.zone_name)

    return await _answer(request, JSON, work)


@router.get("/collections/{collection_id}", summary="A feature collection")
async def collection(request: Request, uow: ReadingUowDep, collection_id: str, clock: ClockDep) -> Response:
    async def work() -> Any:
        check_params(request.query_params, {"f"})
        sources = _sources(request, as_caller=False)
        return await handlers.one_collection(uow, sources, collection_id, _base(request), clock.zone_name)

    return await _answer(request, JSON, work)


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection (limit, bbox, datetime, property filters; next links)",
)
async def items(request: Request, uow: ReadingUowDep, collection_id: str) -> Response:
    async def work() -> Any:
        return await handlers.items(uow, await _asked(request), collection_id)

    return await _answer(request, GEOJSON, work)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature",
)
async def item(request: Request, uow: ReadingUowDep, collection_id: str, feature_id: str) -> Response:
    async def work() -> Any:
        return await handlers.item(uow, await _asked(request), collection_id, feature_id)

    return await _answer(request, GEOJSON, work)

"""Open311 GeoReport v2 under ``/open311/v2/``, with its Service Discovery file at ``/open311/discovery.{format}``.

GET needs no key (a reader or admin key in ``Authorization: Bearer`` also lists
the hidden categories). POST takes ``api_key`` in the form body, because the
specification puts it there and 311 systems send it there; this is the only
route that accepts a key outside the ``Authorization`` header.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Path, Query, Request, Response, Security

from services.audits.deps import AuditsSettingsDep, ReadingUowDep, get_uow, optional_principal
from services.audits.open311 import handlers
from services.audits.open311.api.docs import (
    CREATED_SCHEMA,
    DEFINITION_SCHEMA,
    DISCOVERY_SCHEMA,
    POST_BODY,
    REQUESTS_SCHEMA,
    SERVICES_SCHEMA,
    responses,
)
from services.audits.open311.api.encoding import answer, check_format, error_answer
from services.audits.open311.domain import georeport
from services.audits.open311.domain.georeport import Open311Error
from services.audits.settings import AuditsSettings
from shared.auth.keys import KEY_PREFIX, Principal, bearer_token, optional_key_scheme
from shared.errors import Problem, Unauthorized
from shared.web.http import ClockDep

router = APIRouter(prefix="/open311", tags=["Open311 GeoReport v2"], dependencies=[Security(optional_key_scheme)])

Format = Annotated[str, Path(description="`json` or `xml`", json_schema_extra={"enum": ["json", "xml"]})]
Jurisdiction = Annotated[str | None, Query(description="optional: this endpoint serves one jurisdiction")]


async def _answer(fmt: str, root: str, work: Callable[[], Awaitable[Any]]) -> Response:
    """Every failure in the specification's error format, in the requested format."""
    try:
        check_format(fmt)
        return answer(fmt, root, await work())
    except Open311Error as error:
        return error_answer(fmt, error)
    except Problem as problem:
        status = problem.status if problem.status in (403, 404) else 400
        return error_answer(fmt, Open311Error(status, problem.detail))


async def _verify(request: Request, key: str, action: str) -> Principal:
    try:
        principal: Principal = await request.app.state.key_verifier.verify(key)
    except Unauthorized as exc:
        raise Open311Error(403, f"Invalid api_key received -- can't proceed with {action}.") from exc
    return principal


async def _reader(request: Request, jurisdiction_id: str | None, settings: AuditsSettings) -> Principal | None:
    georeport.check_jurisdiction(jurisdiction_id, settings.open311_jurisdiction_id)
    try:
        return await optional_principal(request)
    except Unauthorized as exc:
        raise Open311Error(403, f"Invalid api_key received: {exc.detail}") from exc


@router.get("/discovery.{fmt}", summary="Service Discovery", responses=responses(DISCOVERY_SCHEMA, 400))
async def discovery(request: Request, fmt: Format, settings: AuditsSettingsDep) -> Response:
    url = str(request.base_url).rstrip("/") + "/open311/v2"

    async def work() -> Any:
        return handlers.discovery(url, settings)

    return await _answer(fmt, "discovery", work)


@router.get("/v2/services.{fmt}", summary="GET Service List", responses=responses(SERVICES_SCHEMA, 400, 403, 404))
async def service_list(
    request: Request, fmt: Format, settings: AuditsSettingsDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    async def work() -> Any:
        return handlers.services(await _reader(request, jurisdiction_id, settings), settings)

    return await _answer(fmt, "services", work)


@router.get(
    "/v2/services/{service_code}.{fmt}",
    summary="GET Service Definition",
    responses=responses(DEFINITION_SCHEMA, 400, 403, 404),
)
async def service_definition(
    request: Request, service_code: str, fmt: Format, settings: AuditsSettingsDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    async def work() -> Any:
        return handlers.definition(service_code, await _reader(request, jurisdiction_id, settings), settings)

    return await _answer(fmt, "service_definition", work)


@router.get("/v2/requests.{fmt}", summary="GET Service Requests", responses=responses(REQUESTS_SCHEMA, 400, 403, 404))
async def service_requests(
    request: Request,
    uow: ReadingUowDep,
    fmt: Format,
    settings: AuditsSettingsDep,
    clock: ClockDep,
    jurisdiction_id: Jurisdiction = None,
    service_request_id: Annotated[str | None, Query(description="comma delimited; overrides the rest")] = None,
    service_code: Annotated[str | None, Query(description="comma delimited")] = None,
    start_date: Annotated[str | None, Query(description="w3 date-time, e.g. 2026-01-01T00:00:00Z")] = None,
    end_date: Annotated[str | None, Query(description="w3 date-time; at most 90 days after start_date")] = None,
    status: Annotated[str | None, Query(description="open, closed, or both comma delimited")] = None,
) -> Response:
    async def work() -> Any:
        principal = await _reader(request, jurisdiction_id, settings)
        query = georeport.request_query(
            {
                "service_request_id": service_request_id,
                "service_code": service_code,
                "start_date": start_date,
                "end_date": end_date,
                "status": status,
            },
            clock.now(),
        )
        return await handlers.list_requests(uow, principal, query, settings=settings, zone=clock.zone_name)

    return await _answer(fmt, "service_requests", work)


async def _form(request: Request) -> dict[str, list[str]]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise Open311Error(400, "send the request as application/x-www-form-urlencoded")
    try:
        return parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise Open311Error(400, "the request must be UTF-8") from exc


async def _poster(request: Request, form: dict[str, list[str]]) -> Principal:
    key = next((k.strip() for k in form.get("api_key", []) if k.strip()), None)
    if key is None and request.headers.get("authorization", "").lower().startswith("bearer "):
        key = bearer_token(request)
    if key is None:
        raise Open311Error(403, "api_key was not provided -- can't proceed with create_request.")
    if not key.startswith(KEY_PREFIX):
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    return await _verify(request, key, "create_request")


@router.post(
    "/v2/requests.{fmt}",
    summary="POST Service Request (cpted_audit_request: ask for an audit)",
    responses=responses(CREATED_SCHEMA, 400, 403, 404),
    openapi_extra=POST_BODY,
)
async def create_service_request(
    request: Request, fmt: Format, settings: AuditsSettingsDep, clock: ClockDep
) -> Response:
    async def work() -> Any:
        form = await _form(request)
        jurisdiction = next(iter(form.get("jurisdiction_id", [])), None) or request.query_params.get("jurisdiction_id")
        georeport.check_jurisdiction(jurisdiction, settings.open311_jurisdiction_id)
        principal = await _poster(request, form)
        return await handlers.submit(await get_uow(request, principal), principal, form, clock)

    return await _answer(fmt, "service_requests", work)


@router.get(
    "/v2/requests/{service_request_id}.{fmt}",
    summary="GET Service Request",
    responses=responses(REQUESTS_SCHEMA, 400, 403, 404),
)
async def service_request(
    request: Request,
    uow: ReadingUowDep,
    service_request_id: str,
    fmt: Format,
    settings: AuditsSettingsDep,
    clock: ClockDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    async def work() -> Any:
        principal = await _reader(request, jurisdiction_id, settings)
        return await handlers.get_request(uow, principal, service_request_id, settings=settings, zone=clock.zone_name)

    return await _answer(fmt, "service_requests", work)


@router.get(
    "/v2/tokens/{token}.{fmt}",
    summary="GET service_request_id from a token (never needed: requests are created in real time)",
    responses=responses(CREATED_SCHEMA, 400, 403, 404),
)
async def token(
    request: Request, token: str, fmt: Format, settings: AuditsSettingsDep, jurisdiction_id: Jurisdiction = None
) -> Response:
    async def work() -> Any:
        await _reader(request, jurisdiction_id, settings)
        raise Open311Error(404, f"token {token} not found: every service is realtime and returns service_request_id")

    return await _answer(fmt, "service_requests", work)

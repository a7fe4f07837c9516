"""``/v1/crime-incidents``: incidents stored as JSON batches or imported from CSV files, listed and counted."""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from services.metrics.crime.api.categories import CategoriesQ, split_values
from services.metrics.crime.api.schemas import ImportReportRead, IncidentCreate, IncidentRead
from services.metrics.crime.domain.incidents import HeaderError, Row, column_overrides, utc_bounds
from services.metrics.crime.handlers import reads
from services.metrics.crime.handlers.imports import CsvOptions, ImportReport, OnError, import_csv, import_rows
from services.metrics.crime.store import queries
from shared.auth.keys import CurrentKey, ReaderKey
from shared.contracts.fields import Day
from shared.errors import PROBLEM_JSON, InvalidField, Problem
from shared.web.http import ClockDep, SessionDep
from shared.web.pagination import CursorDep, Page

router = APIRouter(prefix="/v1/crime-incidents", tags=["crime statistics"])

CSV_TYPES = ("text/csv", "application/csv", "text/plain", "application/octet-stream", "")
# A CSV file is streamed, never held: a police export of a few million rows is welcome. A JSON batch
# of 10,000 incidents is about 3 MB. An import answers when it is done, after minutes for a big file.
BODY_LIMITS = {"/v1/crime-incidents/import": 8 << 30, "/v1/crime-incidents": 16 << 20}
SLOW_ROUTES = {"/v1/crime-incidents/import": 1800.0, "/v1/crime-incidents": 120.0}


class RejectedRows(Problem):
    status, type, title = 422, "rejected-rows", "Rows rejected"


class UnreadableFile(Problem):
    status, type, title = 422, "unreadable-file", "The file cannot be read"


class UnsupportedMediaType(Problem):
    status, type, title = 415, "unsupported-media-type", "Unsupported media type"


def _read(report: ImportReport) -> dict[str, Any]:
    return {
        "on_error": report.on_error.value,
        "committed": report.committed,
        "rows": report.rows,
        "stored": report.stored,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "unassigned": report.unassigned,
        "errors": [{"line": e.line, "reason": e.reason} for e in report.errors],
        "errors_truncated": report.errors_truncated,
        "unassigned_lines": report.unassigned_lines,
        "unknown_neighbourhood_ids": sorted(report.unknown_neighbourhood_ids, key=str),
    }


def _answer(report: ImportReport, response: Response) -> dict[str, Any]:
    if not report.committed:
        raise RejectedRows(
            f"{report.rejected} of {report.rows} rows are bad; nothing was stored (on_error=reject). "
            "Fix them, or send on_error=skip to store the good rows.",
            errors=[{"field": f"line {e.line}", "line": e.line, "message": e.reason} for e in report.errors],
            report=_read(report),
        )
    response.status_code = 201 if report.stored else 200
    return _read(report)


def _row(position: int, item: IncidentCreate) -> Row:
    lon, lat = (item.location.coordinates[0], item.location.coordinates[1]) if item.location else (None, None)
    return (position, item.source, item.external_id, item.category, item.occurred_at, lon, lat, item.neighbourhood_id)


@router.post(
    "",
    status_code=201,
    response_model=ImportReportRead,
    summary="Store a batch of incidents (admin)",
    responses={200: {"model": ImportReportRead, "description": "Nothing new: every incident was stored before"}},
)
async def create_incidents(
    request: Request,
    clock: ClockDep,
    principal: CurrentKey,
    response: Response,
    body: Annotated[list[IncidentCreate], Body(min_length=1, max_length=10_000)],
) -> dict[str, Any]:
    """All or nothing; a repeat of a (source, external_id) already stored changes nothing (200)."""
    principal.require_admin()
    rows = [_row(i, item) for i, item in enumerate(body)]
    return _answer(await import_rows(request.app.state.engine, rows, clock.zone_name), response)


def _columns(column: list[str]) -> dict[str, str]:
    try:
        return column_overrides(column)
    except ValueError as exc:
        raise InvalidField(str(exc), field="query.column") from None


@router.post(
    "/import",
    response_model=ImportReportRead,
    summary="Import a CSV file, streamed (admin)",
    responses={
        201: {"model": ImportReportRead, "description": "New incidents stored"},
        415: {
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": "Not CSV",
        },
    },
    openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def import_incidents(
    request: Request,
    clock: ClockDep,
    principal: CurrentKey,
    response: Response,
    on_error: Annotated[
        OnError, Query(description="reject: store nothing if any row is bad; skip: store the good rows")
    ] = OnError.reject,
    source: Annotated[
        str | None, Query(max_length=100, pattern=r"^[^\x00]+$", description="source of rows without a source column")
    ] = None,
    column: Annotated[list[str], Query(description="map a field to a column: occurred_at=Date Time (repeatable)")] = [],  # noqa: B006
    encoding: Annotated[
        str, Query(max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$", description="the file's encoding, e.g. cp1252")
    ] = "utf-8",
) -> dict[str, Any]:
    """Send the file as the body (`curl --data-binary @incidents.csv -H 'Content-Type: text/csv'`). Columns are
    matched by header name; bad rows are reported with their line numbers."""
    principal.require_admin()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        raise UnsupportedMediaType(f"send the CSV file itself as the body with Content-Type text/csv, not {media}")
    options = CsvOptions(clock.zone_name, on_error, _columns(column), source, encoding)
    try:
        report = await import_csv(request.app.state.engine, request.stream(), options)
    except HeaderError as exc:
        raise UnreadableFile(str(exc)) from None
    return _answer(report, response)


def _filters(
    clock: ClockDep,
    source: Annotated[str | None, Query(max_length=100)] = None,
    categories: CategoriesQ = [],  # noqa: B006
    neighbourhood_id: Annotated[list[str], Query(description="repeatable or comma-separated")] = [],  # noqa: B006
    unassigned: Annotated[bool | None, Query(description="true: only points outside every boundary")] = None,
    start: Annotated[Day | None, Query(alias="from", description="first local day (inclusive)")] = None,
    end: Annotated[Day | None, Query(alias="to", description="last local day (inclusive)")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees")] = None,
) -> queries.IncidentFilters:
    if start and end and start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")
    occurred = utc_bounds(start or date(1900, 1, 1), end or date(2100, 12, 31), clock.zone_name)
    return queries.IncidentFilters(
        source=source,
        categories=split_values(categories, normalise=True),
        neighbourhood_ids=[_uuid(v, "query.neighbourhood_id") for v in split_values(neighbourhood_id)],
        unassigned=unassigned,
        occurred=occurred if (start or end) else None,
        bbox=_bbox(bbox) if bbox else None,
    )


def _uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidField(f"{value!r} is not a UUID", field=field) from None


def _bbox(value: str) -> tuple[float, float, float, float]:
    try:
        west, south, east, north = (float(v) for v in value.split(","))
    except ValueError:
        raise InvalidField("bbox is west,south,east,north in decimal degrees", field="query.bbox") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidField("bbox must have west <= east and south <= north, in range", field="query.bbox")
    return west, south, east, north


FiltersDep = Annotated[queries.IncidentFilters, Depends(_filters)]


@router.get("", response_model=Page[IncidentRead], summary="Incidents, newest first, with filters")
async def list_incidents(
    session: SessionDep, principal: ReaderKey, page: CursorDep, filters: FiltersDep
) -> dict[str, Any]:
    """`from`/`to` are local days, the same days as an evaluation's windows, so its counts can be checked here."""
    return await reads.incidents(session, filters, limit=page.limit, cursor=page.cursor)


@router.get("/count", summary="How many incidents match the filters")
async def count_incidents(session: SessionDep, principal: ReaderKey, filters: FiltersDep) -> dict[str, int]:
    return await reads.count(session, filters)

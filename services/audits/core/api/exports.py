"""Lifecycle exports of the audits and recommendations: CSV and GeoJSON, with the lists' own filters.

Included in the app before the audit and recommendation routers, so that
``export.csv`` is never read as an id.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.audits.core.api.filters import AuditFiltersDep, RecommendationFiltersDep
from services.audits.core.handlers import exports
from shared.auth.keys import Principal, ReaderKey
from shared.contracts.geo import PointRead

router = APIRouter(tags=["exports"])

GEOJSON = "application/geo+json"
BomQ = Annotated[bool, Query(description="start with a UTF-8 byte order mark, so Excel reads accents right")]


_POINT = {**PointRead.model_json_schema(), "title": "Point"}
FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {
        "type": {"const": "Feature"},
        "id": {"type": "string"},
        "geometry": {
            "description": "The site's GeoJSON Point (WGS84), or its neighbourhood's centroid; null where the record "
            "has no place",
            "anyOf": [_POINT, {"type": "null"}],
        },
        "properties": {
            "type": "object",
            "description": "The same fields as a row of the CSV export: text, counts, or null",
            "additionalProperties": {"type": ["string", "number", "null"]},
        },
    },
}
FEATURE_COLLECTION = {
    "type": "object",
    "required": ["type", "features"],
    "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array", "items": FEATURE}},
}


def _answers(media: str, what: str) -> dict[int | str, dict[str, Any]]:
    schema = FEATURE_COLLECTION if media == GEOJSON else {"type": "string"}
    return {200: {"description": what, "content": {media: {"schema": schema}}}}


async def _export(request: Request, principal: Principal, filters: Any, what: str, fmt: str, bom: bool = False) -> Any:
    ctx = exports.Context(principal.visible_partnerships(), filters.as_kwargs())
    engine = request.app.state.engine
    if fmt == "csv":
        chunks, media = await exports.csv_stream(engine, what, ctx, bom=bom), "text/csv; charset=utf-8"
    else:
        chunks, media = await exports.geojson_stream(engine, what, ctx), GEOJSON
    today = request.app.state.clock.today()
    headers = {"Content-Disposition": f'attachment; filename="{what}-{today.isoformat()}.{fmt}"'}
    return StreamingResponse(chunks, media_type=media, headers=headers)


_CSV_NOTE = (
    " One row each; `<status>_on` is the day each status was (last) entered, `proposed_on` the audit's day; "
    "`history` lists every step. A filter matching nothing gives the header line alone."
)


@router.get(
    "/v1/recommendations/export.csv",
    response_class=StreamingResponse,
    responses=_answers("text/csv", "UTF-8 CSV (RFC 4180)"),
    summary="Every recommendation's whole lifecycle as CSV",
    description="The same filters as `GET /v1/recommendations`." + _CSV_NOTE,
)
async def export_recommendations_csv(
    request: Request, principal: ReaderKey, filters: RecommendationFiltersDep, bom: BomQ = False
) -> StreamingResponse:
    return await _export(request, principal, filters, "recommendations", "csv", bom)


@router.get(
    "/v1/audits/export.csv",
    response_class=StreamingResponse,
    responses=_answers("text/csv", "UTF-8 CSV (RFC 4180)"),
    summary="Every audit with its recommendations' progress as CSV",
    description="The same filters as `GET /v1/audits`. Counts of the recommendations by status, and the first "
    "day one of them reached each status. A filter matching nothing gives the header line alone.",
)
async def export_audits_csv(
    request: Request, principal: ReaderKey, filters: AuditFiltersDep, bom: BomQ = False
) -> StreamingResponse:
    return await _export(request, principal, filters, "audits", "csv", bom)


@router.get(
    "/v1/recommendations/export.geojson",
    response_class=StreamingResponse,
    responses=_answers(GEOJSON, "A GeoJSON FeatureCollection (WGS84)"),
    summary="Recommendations as GeoJSON for a GIS, with their lifecycle",
    description="The same filters as `GET /v1/recommendations`. A feature's point is its audit's site, or the "
    "neighbourhood's centroid when the site has no location (property `location_source`).",
)
async def export_recommendations_geojson(
    request: Request, principal: ReaderKey, filters: RecommendationFiltersDep
) -> StreamingResponse:
    return await _export(request, principal, filters, "recommendations", "geojson")


@router.get(
    "/v1/audits/export.geojson",
    response_class=StreamingResponse,
    responses=_answers(GEOJSON, "A GeoJSON FeatureCollection (WGS84)"),
    summary="Audits as GeoJSON for a GIS, with their recommendations' progress",
    description="The same filters as `GET /v1/audits`. A feature's point is the audited site, or the "
    "neighbourhood's centroid when the site has no location (property `location_source`).",
)
async def export_audits_geojson(request: Request, principal: ReaderKey, filters: AuditFiltersDep) -> StreamingResponse:
    return await _export(request, principal, filters, "audits", "geojson")

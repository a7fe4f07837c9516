"""Use cases behind OGC API - Features: collections, pages of features, single features."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import box as shapely_box
from sqlalchemy.ext.asyncio import AsyncSession

from services.audits.core.domain.places import centroid
from services.audits.core.store import repository
from services.audits.ogc.domain import features as ogc_features
from services.audits.ogc.domain.standard import (
    CRS84,
    GEOJSON,
    GREGORIAN,
    ITEMS_PARAMS,
    JSON,
    BBox,
    Collection,
    OgcError,
    check_format,
    check_params,
    invalid,
    link,
    local_days,
    parse_bbox,
    parse_datetime,
    parse_limit,
)
from services.audits.ogc.handlers import counts as ogc_counts
from services.audits.ogc.handlers import events as ogc_events
from services.audits.ogc.store import features
from services.audits.ogc.store.features import ItemFilter
from services.audits.ogc.store.upstream import Sources
from services.audits.settings import AuditsSettings
from services.audits.tables import Audit, AuditRequest, Neighbourhood
from shared.auth.keys import Principal
from shared.clock import Clock
from shared.contracts.geo import stored_shape
from shared.db.uow import UnitOfWork
from shared.web.pagination import PageParams


def collection(collection_id: str) -> Collection:
    found = ogc_features.COLLECTIONS.get(collection_id)
    if found is None:
        raise OgcError(404, "NotFound", f"collection {collection_id} not found")
    return found


def _boxes(box: BBox) -> list[Any]:
    if box.crosses_antimeridian:
        return [shapely_box(box.west, box.south, 180, box.north), shapely_box(-180, box.south, box.east, box.north)]
    return [shapely_box(box.west, box.south, box.east, box.north)]


def _near(c: Collection, box: BBox | None, hoods: Sequence[Neighbourhood]) -> frozenset[uuid.UUID]:
    """Neighbourhoods meeting the box: by boundary for their own collection, else by centroid."""
    if box is None:
        return frozenset()
    if c.polygons:
        areas = _boxes(box)
        return frozenset(n.id for n in hoods if any(stored_shape(n.boundary).intersects(a) for a in areas))
    return frozenset(n.id for n in hoods if box.contains(*centroid(n.boundary)))


def _properties(c: Collection, params: Mapping[str, str]) -> dict[str, str]:
    chosen = {}
    for name, allowed in c.filters.items():
        value = params.get(name)
        if value is not None and allowed and value not in allowed:
            raise invalid(name, f"one of {', '.join(allowed)}")
        if value is not None:
            chosen[name] = value
    return chosen


def item_filter(
    c: Collection, params: Mapping[str, str], categories: Sequence[str], hoods: Sequence[Neighbourhood], zone: str
) -> ItemFilter:
    """Every parameter checked as the standard asks: unknown ones and bad values are a 400."""
    check_params(params.keys(), ITEMS_PARAMS | c.filters.keys())
    check_format(params.get("f"))
    box = parse_bbox(params.get("bbox"))
    interval = parse_datetime(params.get("datetime"), zone)
    return ItemFilter(
        box=box,
        near=_near(c, box, hoods),
        days=local_days(interval, zone) if interval and c.temporal == "conducted_on" else None,
        interval=interval,
        properties=_properties(c, params),
        categories=categories,
    )


async def _features(session: AsyncSession, c: Collection, rows: Sequence[Any], hoods: Sequence[Neighbourhood]) -> Any:
    centroids = {n.id: centroid(n.boundary) for n in hoods}
    if c.id == "neighbourhoods":
        return [ogc_features.neighbourhood(r) for r in rows]
    if c.id == "audits":
        return [ogc_features.audit(r, centroids) for r in rows]
    if c.id == "audit-requests":
        return [ogc_features.audit_request(r, centroids) for r in rows]
    parents = await repository.audits_by_id(session, {r.audit_id for r in rows})
    return [ogc_features.recommendation(r, parents[r.audit_id], centroids) for r in rows]


async def _page(
    session: AsyncSession, asked: Asked, c: Collection, f: ItemFilter, page: PageParams, hoods: Sequence[Any]
) -> tuple[list[dict[str, Any]], str | None, int | None]:
    """Features from this service's tables, or from the service whose data the collection is."""
    sources, zone = asked.sources, asked.clock.zone_name
    if c.served_by == "events":
        found, cursor = await ogc_events.page(sources.events, f, page, hoods, zone)
        return found, cursor, None
    if c.served_by == "metrics":
        return await ogc_counts.page(sources.metrics, f, page, hoods, zone)
    rows, cursor, matched = await features.items(session, c.id, f, page)
    return await _features(session, c, rows, hoods), cursor, matched


@dataclass(frozen=True)
class Asked:
    """Who asks (their key, if any, and the other services as read with it) and how: parameters and URL; and
    what the service answers with: its settings (what is public, page sizes) and its clock (the local zone)."""

    principal: Principal | None
    sources: Sources
    params: Mapping[str, str]
    url: Any
    settings: AuditsSettings
    clock: Clock

    def categories(self) -> list[str]:
        """The recommendation categories this caller may see."""
        return [v.value for v in self.settings.visible_categories(self.principal)]


async def items(uow: UnitOfWork, asked: Asked, collection_id: str) -> dict[str, Any]:
    c, params, url, settings = collection(collection_id), asked.params, asked.url, asked.settings
    async with uow:
        hoods = await repository.all_neighbourhoods(uow.session)
        page = PageParams(
            limit=parse_limit(params.get("limit"), settings.ogc_default_limit, settings.ogc_max_limit),
            cursor=params.get("cursor"),
        )
        f = item_filter(c, params, asked.categories(), hoods, asked.clock.zone_name)
        found, cursor, matched = await _page(uow.session, asked, c, f, page, hoods)
    links = [link(str(url), "self", GEOJSON, "this page"), link(_up(url, 1), "collection", JSON, c.title)]
    if cursor:
        links.append(link(str(url.include_query_params(cursor=cursor)), "next", GEOJSON, "next page"))
    return {
        "type": "FeatureCollection",
        "features": found,
        **({"numberMatched": matched} if matched is not None else {}),
        "numberReturned": len(found),
        "timeStamp": asked.clock.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }


def _up(url: Any, levels: int) -> str:
    return str(url.replace(query="")).rsplit("/", levels)[0]


async def _one(session: AsyncSession, asked: Asked, c: Collection, feature_id: str) -> dict[str, Any] | None:
    hoods = await repository.all_neighbourhoods(session)
    if c.served_by == "events":
        return await ogc_events.item(asked.sources.events, feature_id, hoods)
    if c.served_by == "metrics":
        return await ogc_counts.item(asked.sources.metrics, feature_id, hoods)
    try:
        id_ = uuid.UUID(feature_id)
    except ValueError:
        return None
    visible = ItemFilter(categories=asked.categories())
    row = await features.item(session, c.id, id_, visible)
    return None if row is None else (await _features(session, c, [row], hoods))[0]


async def item(uow: UnitOfWork, asked: Asked, collection_id: str, feature_id: str) -> dict[str, Any]:
    c, url = collection(collection_id), asked.url
    check_params(asked.params.keys(), {"f"})
    check_format(asked.params.get("f"))
    async with uow:
        found = await _one(uow.session, asked, c, feature_id)
    if found is None:
        raise OgcError(404, "NotFound", f"feature {feature_id} not found in {c.id}")
    found["links"] = [link(str(url), "self", GEOJSON, "this feature"), link(_up(url, 2), "collection", JSON, c.title)]
    return found  # type: ignore[no-any-return]


async def _spatial(session: AsyncSession, c: Collection, hoods: Sequence[Neighbourhood]) -> list[float] | None:
    """A box that holds every feature of the collection (exact for points, a neighbourhood's centroid included)."""
    if c.served_by == "events":
        return None  # bounding them would mean reading every event each time the collections are listed
    if c.polygons:
        bounds = [stored_shape(n.boundary).bounds for n in hoods]
    else:
        located, unlocated = await features.point_extent(session, AuditRequest if c.id == "audit-requests" else Audit)
        bounds = [located] if located else []
        bounds += [(*centroid(n.boundary),) * 2 for n in hoods if n.id in unlocated]
    if not bounds:
        return None
    return [min(b[0] for b in bounds), min(b[1] for b in bounds), max(b[2] for b in bounds), max(b[3] for b in bounds)]


async def _temporal(session: AsyncSession, sources: Sources, c: Collection, zone: str) -> list[str] | None:
    if c.served_by == "metrics":
        try:
            return await ogc_counts.temporal_extent(sources.metrics, zone)
        except OgcError:
            return None  # the collections are still listed while the metrics service is away
    if c.temporal == "received_at":
        first, last = await features.received_extent(session)
        return [first.isoformat(), last.isoformat()] if first and last else None
    if c.temporal == "conducted_on":
        tz = ZoneInfo(zone)
        days = await features.conducted_extent(session)
        if days[0] is None or days[1] is None:
            return None
        start = datetime.combine(days[0], time(), tz)
        end = datetime.combine(days[1] + timedelta(days=1), time(), tz) - timedelta(seconds=1)
        return [start.isoformat(), end.isoformat()]
    return None


async def describe(
    session: AsyncSession, sources: Sources, c: Collection, base: str, hoods: Sequence[Neighbourhood], zone: str
) -> dict[str, Any]:
    """A collection's metadata, the same in ``/collections`` and ``/collections/{id}``."""
    extent: dict[str, Any] = {}
    if (spatial := await _spatial(session, c, hoods)) is not None:
        extent["spatial"] = {"bbox": [spatial], "crs": CRS84}
    if (temporal := await _temporal(session, sources, c, zone)) is not None:
        extent["temporal"] = {"interval": [temporal], "trs": GREGORIAN}
    here = f"{base}/collections/{c.id}"
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": extent,
        "links": [link(here, "self", JSON, c.title), link(f"{here}/items", "items", GEOJSON, f"{c.title} (GeoJSON)")],
    }


async def collections(uow: UnitOfWork, sources: Sources, base: str, zone: str) -> dict[str, Any]:
    async with uow:
        hoods = await repository.all_neighbourhoods(uow.session)
        described = [
            await describe(uow.session, sources, c, base, hoods, zone) for c in ogc_features.COLLECTIONS.values()
        ]
    return {"links": [link(f"{base}/collections", "self", JSON, "feature collections")], "collections": described}


async def one_collection(uow: UnitOfWork, sources: Sources, collection_id: str, base: str, zone: str) -> dict[str, Any]:
    async with uow:
        hoods = await repository.all_neighbourhoods(uow.session)
        return await describe(uow.session, sources, collection(collection_id), base, hoods, zone)

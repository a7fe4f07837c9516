"""The ``incident-counts`` collection: the metrics service's monthly counts on the audits' neighbourhood polygons.

Two calls per page: the months and categories the counts cover (so the grid
and the properties are the same on every page), then the counts of the
months on the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from services.audits.ogc.domain import counts as ogc_counts
from services.audits.ogc.domain.standard import OgcError
from services.audits.ogc.store.features import ItemFilter
from services.audits.ogc.store.upstream import Upstream
from services.audits.tables import Neighbourhood
from shared.web.pagination import PageParams

EXTENT = "/v1/crime-incidents/counts/extent"


async def _coverage(metrics: Upstream) -> tuple[date | None, date | None, list[str]]:
    answer = await metrics.get(EXTENT)
    if answer is None:
        raise OgcError(503, "ServiceUnavailable", "the metrics service has no monthly incident counts; try again")
    first, last = (ogc_counts.parse_month(answer[k]) if answer[k] else None for k in ("first_month", "last_month"))
    return first, last, list(answer["categories"])


async def _features(
    metrics: Upstream, cells: Sequence[ogc_counts.Cell], hoods: dict[uuid.UUID, Neighbourhood], categories: list[str]
) -> list[dict[str, Any]]:
    if not cells:
        return []
    months = [month for month, _ in cells]
    span = {"from": ogc_counts.month_text(min(months)), "to": ogc_counts.month_text(max(months))}
    answer = await metrics.get("/v1/crime-incidents/counts", span)
    if answer is None:
        raise OgcError(503, "ServiceUnavailable", "the metrics service has no monthly incident counts; try again")
    found = ogc_counts.tables(answer["items"])
    return [
        ogc_counts.count_feature(hoods[h], m, ogc_counts.suppress(found.get(m, {}).get(h, {}), categories), categories)
        for m, h in cells
    ]


async def page(
    metrics: Upstream, f: ItemFilter, page: PageParams, hoods: Sequence[Neighbourhood], zone: str
) -> tuple[list[dict[str, Any]], str | None, int]:
    """A page of features, the cursor of the next and how many match in all (months x neighbourhoods)."""
    first, last, categories = await _coverage(metrics)
    months = ogc_counts.months_matching(first, last, f.interval, zone)
    chosen = {n.id: n for n in hoods if f.box is None or n.id in f.near}
    cells, cursor = ogc_counts.grid_page(months, list(chosen), page.cursor, page.limit)
    return await _features(metrics, cells, chosen, categories), cursor, len(months) * len(chosen)


async def item(metrics: Upstream, feature_id: str, hoods: Sequence[Neighbourhood]) -> dict[str, Any] | None:
    cell = ogc_counts.parse_cell_id(feature_id)
    known = {n.id: n for n in hoods}
    if cell is None or cell[1] not in known:
        return None
    first, last, categories = await _coverage(metrics)
    if first is None or last is None or not first <= cell[0] <= last:
        return None
    [found] = await _features(metrics, [cell], known, categories)
    return found


async def temporal_extent(metrics: Upstream, zone: str) -> list[str] | None:
    """From the first instant of the first month to the last of the last; None when there are no counts."""
    first, last, _ = await _coverage(metrics)
    if first is None or last is None:
        return None
    return [ogc_counts.month_span(first, zone)[0].isoformat(), ogc_counts.month_span(last, zone)[1].isoformat()]

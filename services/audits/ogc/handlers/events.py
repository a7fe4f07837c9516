"""The ``events`` collection: pages of the events service's ``GET /v1/events``, as GeoJSON features.

Its cursor is passed through untouched (opaque here), and the list is asked
for exactly as many events as the page still needs, so that the page ends
where the list's next cursor starts. Events the list cannot filter out (box,
exact time) are dropped here; after a few calls a page may be short, with a
``next`` link, as OGC API allows, rather than keep the caller waiting.
There is no ``numberMatched``: the list has no count, and counting would mean
reading every event for every page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.audits.core.domain.places import centroid
from services.audits.ogc.domain import events as ogc_events
from services.audits.ogc.domain import features as ogc_features
from services.audits.ogc.domain.standard import OgcError
from services.audits.ogc.store.features import ItemFilter
from services.audits.ogc.store.upstream import Upstream
from services.audits.tables import Neighbourhood
from shared.web.pagination import MAX_LIMIT, PageParams

CALLS_PER_PAGE = 10


def _centroids(hoods: Sequence[Neighbourhood]) -> dict[uuid.UUID, tuple[float, float]]:
    return {n.id: centroid(n.boundary) for n in hoods}


async def page(
    events: Upstream, f: ItemFilter, page: PageParams, hoods: Sequence[Neighbourhood], zone: str
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``page.limit`` features and the cursor of the next page (None: the list is over)."""
    query = ogc_events.list_query(f.properties, f.interval, zone)
    centroids, cursor = _centroids(hoods), page.cursor
    found: list[dict[str, Any]] = []
    for _ in range(CALLS_PER_PAGE):
        size = min(page.limit - len(found), MAX_LIMIT)
        answer = await events.get("/v1/events", query | {"limit": size} | ({"cursor": cursor} if cursor else {}))
        if answer is None:
            raise OgcError(503, "ServiceUnavailable", "the events service has no event list; try again")
        for event in answer["items"]:
            candidate = ogc_features.event(event, centroids)
            if ogc_events.during(event, f.interval) and ogc_events.in_box(candidate, f.box):
                found.append(candidate)
        cursor = answer["next_cursor"]
        if cursor is None or len(found) == page.limit:
            break
    return found, cursor


async def item(events: Upstream, feature_id: str, hoods: Sequence[Neighbourhood]) -> dict[str, Any] | None:
    try:
        id_ = uuid.UUID(feature_id)
    except ValueError:
        return None
    event = await events.get(f"/v1/events/{id_}")
    return ogc_features.event(event, _centroids(hoods)) if event else None

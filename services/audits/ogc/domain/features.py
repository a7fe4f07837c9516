"""The feature collections a GIS sees, and each record as a GeoJSON feature (no personal data in any)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from services.audits.core.domain.places import point_of
from services.audits.ogc.domain.standard import Collection
from shared.contracts.geo import stored
from shared.contracts.vocabulary import (
    AuditRequestStatus,
    AuditStatus,
    AuditTrigger,
    EventKind,
    EventStatus,
    Priority,
    RecommendationCategory,
    RecommendationStatus,
)

_WHERE = (
    " A feature's point is the audited site, or its neighbourhood's centroid when the site has no location "
    "(property location_source)."
)
COLLECTIONS: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection("neighbourhoods", "Neighbourhoods", "Neighbourhood boundaries and population.", polygons=True),
        Collection(
            "audits",
            "CPTED audits",
            "Crime Prevention Through Environmental Design audits; time is the day conducted." + _WHERE,
            temporal="conducted_on",
            filters={"status": tuple(AuditStatus), "trigger": tuple(AuditTrigger)},
        ),
        Collection(
            "recommendations",
            "CPTED recommendations",
            "Recommendations of the audits with their category and status; time is the audit's day." + _WHERE,
            temporal="conducted_on",
            filters={
                "category": tuple(RecommendationCategory),
                "status": tuple(RecommendationStatus),
                "priority": tuple(Priority),
            },
        ),
        Collection(
            "audit-requests",
            "Audit requests",
            "Residents' and 311 requests for an audit, without who asked; time is when received." + _WHERE,
            temporal="received_at",
            filters={"status": tuple(AuditRequestStatus)},
        ),
        Collection(
            "events",
            "Community events",
            "Community and special events of the partnerships, cancelled ones included with their status; time is "
            "from starts_at to ends_at. Read from the events service. A feature's point is the event's location, "
            "or its neighbourhood's centroid when it has none (property location_source).",
            temporal="starts_at/ends_at",
            filters={"kind": tuple(EventKind), "status": tuple(EventStatus), "special": ("true", "false")},
            served_by="events",
        ),
        Collection(
            "incident-counts",
            "Crime incident counts",
            "Police-reported crime incidents per neighbourhood and calendar month (America/Toronto): one feature "
            "per neighbourhood and month, its polygon, the incidents of each category (incidents_<category>) and "
            "in all (incidents). Incidents themselves are never published as points. Counts from 1 to 4 are "
            "suppressed (null), as Ontario's published statistics do; where a lone suppressed count could be worked "
            "out from the feature's total, the next smallest count is suppressed too. Zero is published. Read from "
            "the metrics service.",
            temporal="month",
            polygons=True,
            served_by="metrics",
        ),
    )
}

Centroids = Mapping[uuid.UUID, tuple[float, float]]


def _point(location: Mapping[str, Any] | None, neighbourhood_id: uuid.UUID | None, centroids: Centroids) -> Any:
    """The geometry and where it came from; no geometry at all for a record placed nowhere."""
    own = point_of(location)
    if own is not None:
        return {"type": "Point", "coordinates": list(own)}, "site"
    if neighbourhood_id in centroids:
        return {"type": "Point", "coordinates": list(centroids[neighbourhood_id])}, "neighbourhood_centroid"  # type: ignore[index]
    return None, None


def feature(id_: uuid.UUID | str, geometry: Any, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": str(id_), "geometry": geometry, "properties": properties}


def neighbourhood(row: Any) -> dict[str, Any]:
    props = {"name": row.name, "municipality": row.municipality, "population": row.population}
    return feature(row.id, stored(row.boundary), props)


def audit(row: Any, centroids: Centroids) -> dict[str, Any]:
    geometry, source = _point(row.location, row.neighbourhood_id, centroids)
    props = {
        "site_name": row.site_name,
        "conducted_on": row.conducted_on.isoformat(),
        "status": row.status,
        "trigger": row.trigger,
        "partnership_id": str(row.partnership_id),
        "neighbourhood_id": str(row.neighbourhood_id),
        "location_source": source,
    }
    return feature(row.id, geometry, props)


def recommendation(row: Any, parent: Any, centroids: Centroids) -> dict[str, Any]:
    geometry, source = _point(parent.location, parent.neighbourhood_id, centroids)
    props = {
        "category": row.category,
        "status": row.status,
        "priority": row.priority,
        "description": row.description,
        "responsible_party": row.responsible_party,
        "expected_on": row.expected_on.isoformat() if row.expected_on else None,
        "implemented_on": row.implemented_on.isoformat() if row.implemented_on else None,
        "audit_id": str(parent.id),
        "site_name": parent.site_name,
        "conducted_on": parent.conducted_on.isoformat(),
        "partnership_id": str(parent.partnership_id),
        "neighbourhood_id": str(parent.neighbourhood_id),
        "location_source": source,
    }
    return feature(row.id, geometry, props)


def audit_request(row: Any, centroids: Centroids) -> dict[str, Any]:
    geometry, source = _point(row.location, row.neighbourhood_id, centroids)
    props = {
        "place": row.place,
        "description": row.description,
        "status": row.status,
        "reason": row.reason,
        "received_at": row.received_at.isoformat(),
        "audit_id": str(row.audit_id) if row.audit_id else None,
        "neighbourhood_id": str(row.neighbourhood_id) if row.neighbourhood_id else None,
        "location_source": source,
    }
    return feature(row.id, geometry, props)


EVENT_PROPERTIES = (
    "name", "kind", "special", "status", "starts_at", "ends_at", "officers_attending", "attendance",
    "description", "neighbourhood_id", "partnership_ids",
)  # fmt: skip


def event(body: Mapping[str, Any], centroids: Centroids) -> dict[str, Any]:
    """An event as the events service answers it (``GET /v1/events``), placed like the audits' records."""
    neighbourhood_id = uuid.UUID(body["neighbourhood_id"]) if body.get("neighbourhood_id") else None
    geometry, source = _point(body.get("location"), neighbourhood_id, centroids)
    props = {name: body.get(name) for name in EVENT_PROPERTIES} | {"location_source": source}
    return feature(body["id"], geometry, props)

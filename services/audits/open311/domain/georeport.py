"""Open311 GeoReport v2: the services offered and how requests are read and written.

Recommendations are published as service requests (one service per
category); a service ``cpted_audit_request`` takes residents' requests for an
audit. Errors are the specification's list of ``{code, description}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.contracts.vocabulary import AuditRequestStatus, RecommendationCategory, RecommendationStatus

AUDIT_REQUEST = "cpted_audit_request"
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's services last changed, as Service Discovery tells clients.
CHANGESET = "2026-11-25 00:00"
MAX_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
MAX_DESCRIPTION = 4000
CLOSED_RECOMMENDATIONS = frozenset({RecommendationStatus.implemented, RecommendationStatus.declined})
CLOSED_REQUESTS = frozenset({AuditRequestStatus.done, AuditRequestStatus.rejected})
AUDIT_REQUEST_NOTICE = (
    "A partnership coordinator reviews every request; when the place qualifies, a CPTED audit is scheduled "
    "and this request says when."
)

CONCERNS = {
    "lighting": "Poor lighting",
    "sightlines": "Overgrown bushes or blocked sightlines",
    "access": "Unclear or uncontrolled access",
    "maintenance": "Graffiti, litter or disrepair",
    "activity": "Loitering or unwanted activity",
    "other": "Something else",
}
ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "place",
        "datatype": "string",
        "required": False,
        "datatype_description": "A short name for the place, up to 200 characters",
        "order": 1,
        "description": "Which place should be audited (e.g. 'alley behind 600 Glengarry Ave')?",
        "values": [],
    },
    {
        "variable": True,
        "code": "concern",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": None,
        "order": 2,
        "description": "What makes the place feel unsafe?",
        "values": [{"key": key, "name": name} for key, name in CONCERNS.items()],
    },
]


class Open311Error(Exception):
    """An answer in the specification's error format: HTTP ``status`` and a list of ``{code, description}``."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def body(self) -> list[dict[str, Any]]:
        return [{"code": self.status, "description": self.description}]


def _title(category: str) -> str:
    return category.replace("_", " ").capitalize()


def services(categories: Iterable[RecommendationCategory]) -> list[dict[str, Any]]:
    listed = [
        {
            "service_code": c.value,
            "service_name": f"CPTED recommendation: {_title(c)}",
            "description": f"Recommendations of CPTED audits about {_title(c).lower()}, followed until done.",
            "metadata": False,
            "type": "realtime",
            "keywords": f"cpted, recommendation, {c.value.replace('_', ' ')}",
            "group": "CPTED recommendations",
        }
        for c in categories
    ]
    listed.append(
        {
            "service_code": AUDIT_REQUEST,
            "service_name": "CPTED audit request",
            "description": "Ask for a Crime Prevention Through Environmental Design audit of a place "
            "that feels unsafe.",
            "metadata": True,
            "type": "realtime",
            "keywords": "cpted, audit, safety, lighting, alley",
            "group": "CPTED audits",
        }
    )
    return listed


def definition(code: str, categories: Iterable[RecommendationCategory]) -> dict[str, Any]:
    if code == AUDIT_REQUEST:
        return {"service_code": code, "attributes": ATTRIBUTES}
    if code in {c.value for c in categories}:
        return {"service_code": code, "attributes": []}
    raise Open311Error(404, f"service_code {code} not found")


def check_jurisdiction(given: str | None, ours: str) -> None:
    """One jurisdiction per endpoint: the parameter is optional, and another value is not found."""
    if given and given != ours:
        raise Open311Error(404, f"jurisdiction_id {given} not found")


def w3(moment: datetime | None, zone: str) -> str | None:
    return moment.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds") if moment else None


def expected(day: date | None, zone: str) -> str | None:
    """A date expected becomes the start of that local day."""
    return w3(datetime.combine(day, time(), ZoneInfo(zone)), zone) if day else None


def parse_w3(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a w3 date-time such as 2010-01-01T00:00:00Z") from exc
    if parsed.tzinfo is None:
        raise Open311Error(400, f"{name} must include a time zone (Z or an offset)")
    return parsed


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests: ids override every other one."""

    ids: list[uuid.UUID] | None = None
    service_codes: frozenset[str] | None = None
    open: bool = True
    closed: bool = True
    start: datetime | None = None
    end: datetime | None = None
    limit: int = MAX_RESULTS


def _window(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """Most recent 90 days by default; a span over 90 days is refused."""
    if start and end:
        if end < start:
            raise Open311Error(400, "end_date is before start_date")
        if end - start > MAX_SPAN:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days")
        return start, end
    if start:
        return start, start + MAX_SPAN
    end = end or now
    return end - MAX_SPAN, end


def request_query(params: Mapping[str, str | None], now: datetime) -> RequestQuery:
    ids = _csv(params.get("service_request_id"))
    if ids:
        found = []
        for raw in ids:
            try:
                found.append(uuid.UUID(raw))
            except ValueError:
                continue  # an id this server never issued matches nothing
        return RequestQuery(ids=found)
    statuses = set(_csv(params.get("status")))
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both (comma delimited)")
    start_raw, end_raw = params.get("start_date"), params.get("end_date")
    start = parse_w3(start_raw, "start_date") if start_raw else None
    end = parse_w3(end_raw, "end_date") if end_raw else None
    start, end = _window(start, end, now)
    codes = frozenset(_csv(params.get("service_code"))) or None
    return RequestQuery(
        None, codes, "open" in statuses or not statuses, "closed" in statuses or not statuses, start, end
    )


@dataclass(frozen=True)
class Site:
    """Where a request is: an address, and a point (the site's own, else its neighbourhood's centroid)."""

    address: str | None = None
    point: tuple[float, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _where(site: Site) -> dict[str, Any]:
    lon, lat = site.point if site.point else (None, None)
    return {"address": site.address, "address_id": None, "zipcode": None, "lat": lat, "long": lon}


def recommendation_request(rec: Any, audit: Any, site: Site, note: str | None, zone: str) -> dict[str, Any]:
    category = RecommendationCategory(rec.category)
    closed = RecommendationStatus(rec.status) in CLOSED_RECOMMENDATIONS
    return {
        "service_request_id": str(rec.id),
        "status": "closed" if closed else "open",
        "status_notes": note,
        "service_name": f"CPTED recommendation: {_title(category)}",
        "service_code": category.value,
        "description": rec.description,
        "agency_responsible": rec.responsible_party,
        "service_notice": f"Recommended by the CPTED audit of {audit.site_name} on {audit.conducted_on}; "
        f"{rec.priority} priority; now {rec.status.replace('_', ' ')}.",
        "requested_datetime": w3(rec.created_at, zone),
        "updated_datetime": w3(rec.updated_at, zone),
        "expected_datetime": expected(rec.expected_on, zone),
        **_where(site),
        "media_url": None,
    }


def audit_request_request(row: Any, audit_on: date | None, site: Site, agency: str, zone: str) -> dict[str, Any]:
    closed = AuditRequestStatus(row.status) in CLOSED_REQUESTS
    return {
        "service_request_id": str(row.id),
        "status": "closed" if closed else "open",
        "status_notes": row.reason,
        "service_name": "CPTED audit request",
        "service_code": AUDIT_REQUEST,
        "description": row.description,
        "agency_responsible": agency,
        "service_notice": AUDIT_REQUEST_NOTICE,
        "requested_datetime": w3(row.received_at, zone),
        "updated_datetime": w3(row.updated_at, zone),
        "expected_datetime": expected(audit_on, zone),
        **_where(site),
        "media_url": row.media_url,
    }


def discovery(endpoint_url: str, contact: str, key_service: str) -> dict[str, Any]:
    """The Service Discovery document that every GeoReport v2 endpoint is required to have."""
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }

"""OGC API - Features - Part 1: Core: conformance, media types, exceptions, what a collection declares, and the
rules of the ``items`` parameters (the collections themselves are in ``features.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
FORMATS = ("json", "geojson")
ITEMS_PARAMS = frozenset({"limit", "bbox", "datetime", "cursor", "f"})


class OgcError(Exception):
    """An OGC API exception document (``code``, ``description``) with its HTTP status."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def body(self) -> dict[str, str]:
        return {"code": self.code, "description": self.description}


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    temporal: str | None = None
    filters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    polygons: bool = False  # a box selects by boundary, not by point
    served_by: str = "audits"  # the service whose API holds the data


def invalid(name: str, why: str) -> OgcError:
    return OgcError(400, "InvalidParameterValue", f"{name}: {why}")


def check_params(given: Iterable[str], allowed: Iterable[str]) -> None:
    """Parameters the API definition does not declare are refused (/req/core/query-param-unknown)."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise OgcError(400, "InvalidParameterValue", f"unknown query parameter(s): {', '.join(unknown)}")


def check_format(value: str | None) -> None:
    if value is not None and value not in FORMATS:
        raise invalid("f", "only json (GeoJSON for features) is served")


def acceptable(accept: str | None, offered: Iterable[str]) -> bool:
    """Whether an ``Accept`` header admits one of the offered media types (q=0 excludes)."""
    if not accept:
        return True
    kinds = {o.split(";")[0].strip().lower() for o in offered}
    for part in accept.split(","):
        media, *params = (p.strip().lower() for p in part.split(";"))
        if "q=0" in params or "q=0.0" in params:
            continue
        major = media.split("/")[0]
        if media in ("*/*", f"{major}/*") and any(k.startswith(f"{major}/") or media == "*/*" for k in kinds):
            return True
        if media in kinds:
            return True
    return False


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    """Above the maximum is not an error: the maximum is used (/req/core/fc-limit-response-1 C)."""
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid("limit", "an integer from 1") from exc
    if value < 1:
        raise invalid("limit", "an integer from 1")
    return min(value, maximum)


@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float

    @property
    def crosses_antimeridian(self) -> bool:
        return self.west > self.east

    def contains(self, lon: float, lat: float) -> bool:
        in_lon = (lon >= self.west or lon <= self.east) if self.crosses_antimeridian else self.west <= lon <= self.east
        return in_lon and self.south <= lat <= self.north


def parse_bbox(raw: str | None) -> BBox | None:
    """Four (CRS84) or six (CRS84h: heights are ignored) numbers; west may exceed east across the antimeridian."""
    if raw is None:
        return None
    try:
        numbers = [float(part) for part in raw.split(",")]
    except ValueError as exc:
        raise invalid("bbox", "four or six comma-separated numbers") from exc
    if len(numbers) not in (4, 6):
        raise invalid("bbox", "four or six comma-separated numbers")
    west, south, east, north = numbers if len(numbers) == 4 else (numbers[0], numbers[1], numbers[3], numbers[4])
    if not all(-180 <= x <= 180 for x in (west, east)) or not all(-90 <= y <= 90 for y in (south, north)):
        raise invalid("bbox", "longitudes within -180..180 and latitudes within -90..90 (CRS84)")
    if south > north:
        raise invalid("bbox", "the lower corner's latitude is above the upper corner's")
    return BBox(west, south, east, north)


@dataclass(frozen=True)
class Interval:
    """Closed; ``None`` is an open end."""

    start: datetime | None
    end: datetime | None


def _instant(raw: str, zone: str, upper: bool) -> datetime:
    try:
        if len(raw) == 10:  # a full-date: the whole local day
            day = date.fromisoformat(raw)
            moment = datetime.combine(day + timedelta(days=1) if upper else day, time(), ZoneInfo(zone))
            parsed = moment - timedelta(microseconds=1) if upper else moment
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise invalid("datetime", f"{raw!r} is not an RFC 3339 date-time") from exc
    if parsed.tzinfo is None:
        raise invalid("datetime", f"{raw!r} has no time zone (RFC 3339 needs Z or an offset)")
    if not 1 < parsed.year < 9999:  # room to move to another zone or a month away without leaving the calendar
        raise invalid("datetime", f"{raw!r} is out of range (years 2 to 9998)")
    return parsed


def parse_datetime(raw: str | None, zone: str) -> Interval | None:
    """A date-time, or an interval ``start/end`` where ``..`` or nothing leaves an end open."""
    if raw is None:
        return None
    parts = raw.split("/")
    if len(parts) == 1:
        return Interval(_instant(raw, zone, upper=False), _instant(raw, zone, upper=True))
    if len(parts) != 2 or all(p in ("", "..") for p in parts):
        raise invalid("datetime", "a date-time or an interval with at least one bounded end")
    start = None if parts[0] in ("", "..") else _instant(parts[0], zone, upper=False)
    end = None if parts[1] in ("", "..") else _instant(parts[1], zone, upper=True)
    if start and end and start > end:
        raise invalid("datetime", "the interval ends before it starts")
    return Interval(start, end)


def local_days(interval: Interval, zone: str) -> tuple[date | None, date | None]:
    """The local days a date-valued property may have to fall in the interval."""
    tz = ZoneInfo(zone)
    first = interval.start.astimezone(tz).date() if interval.start else None
    last = interval.end.astimezone(tz).date() if interval.end else None
    return first, last


def link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, Any]:
    found = {"href": href, "rel": rel, "type": type_}
    return found | {"title": title} if title else found

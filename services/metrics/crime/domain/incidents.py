"""Crime incident rows: columns mapped by name, each row checked with a line-numbered reason.

A file's header names its columns; order does not matter and extra
columns are ignored. Each field accepts a few names police exports commonly
use (``incident_id``, ``offence``, ``x``/``y``...), and a caller can map a
field to any column explicitly. A row needs a point (longitude and latitude)
or a ``neighbourhood_id``. Times with an offset are taken as given; times
without one are local (America/Toronto) times, as police exports write them.
Incidents keep their moment; the moments of a run of local days are ``utc_bounds``.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FIELDS = ("external_id", "source", "category", "occurred_at", "longitude", "latitude", "neighbourhood_id")
REQUIRED = ("external_id", "source", "category", "occurred_at")
ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("external_id", "id", "incident_id", "incident_number", "occurrence_id", "event_id", "case_number"),
    "source": ("source", "agency", "data_source"),
    "category": ("category", "offence", "offense", "crime_type", "type", "incident_type"),
    "occurred_at": ("occurred_at", "occurred", "occurrence_date", "date_time", "datetime", "incident_date", "date"),
    "longitude": ("longitude", "lon", "lng", "long", "x"),
    "latitude": ("latitude", "lat", "y"),
    "neighbourhood_id": ("neighbourhood_id", "neighborhood_id"),
}
MAX_LENGTH = {"source": 100, "external_id": 200, "category": 100}
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_SEPARATORS = re.compile(r"[\s\-/]+")

Row = tuple[int, str, str, str, datetime, float | None, float | None, uuid.UUID | None]
"""``(line, source, external_id, category, occurred_at, lon, lat, neighbourhood_id)``"""


class HeaderError(ValueError):
    """The header lacks a column the rows need; nothing can be read."""


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


def normalize_category(raw: str) -> str:
    """``"Break and Enter"`` and ``"break-and-enter"`` are one category: ``break_and_enter``."""
    return _SEPARATORS.sub("_", raw.strip().lower())


def _header_key(name: str) -> str:
    return normalize_category(name.lstrip("\ufeff"))


@dataclass(frozen=True)
class ColumnMap:
    index: Mapping[str, int]
    default_source: str | None


def map_columns(header: Sequence[str], explicit: Mapping[str, str], default_source: str | None) -> ColumnMap:
    """Which column holds each field: explicit names first, then the usual aliases."""
    unknown = sorted(set(explicit) - set(FIELDS))
    if unknown:
        raise HeaderError(f"cannot map {', '.join(unknown)}: fields are {', '.join(FIELDS)}")
    positions = {_header_key(name): i for i, name in reversed(list(enumerate(header)))}
    index: dict[str, int] = {}
    for field in FIELDS:
        names = (explicit[field],) if field in explicit else ALIASES[field]
        found = next((positions[_header_key(n)] for n in names if _header_key(n) in positions), None)
        if found is None and field in explicit:
            raise HeaderError(f"column {explicit[field]!r} (for {field}) is not in the header")
        if found is not None:
            index[field] = found
    missing = [f for f in REQUIRED if f not in index and not (f == "source" and default_source)]
    if missing:
        raise HeaderError(f"the header has no column for {', '.join(missing)} (columns: {', '.join(header)})")
    if ("longitude" in index) != ("latitude" in index):
        raise HeaderError("the header has only one of longitude and latitude")
    return ColumnMap(index, default_source)


def column_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``["occurred_at=Date Time", ...]`` as a mapping; ValueError names the bad pair."""
    mapping = {}
    for pair in pairs:
        field, sep, name = pair.partition("=")
        if not sep or field.strip() not in FIELDS or not name.strip():
            raise ValueError(f"{pair!r} is not FIELD=Column with FIELD one of {', '.join(FIELDS)}")
        mapping[field.strip()] = name.strip()
    return mapping


def parse_occurred_at(raw: str, zone: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(raw)
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def utc_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC covering the local days ``first``..``last``, whatever their length: the moments
    incidents happened at that count on those days."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


class Invalid(ValueError):
    """A value that was read but breaks a rule; its message is the reason a client sees."""


HINTS = {
    "occurred_at": "expected ISO 8601 such as 2025-03-01 21:15 or 2025-03-01T21:15:00-05:00",
    "longitude": "expected decimal degrees",
    "latitude": "expected decimal degrees",
    "neighbourhood_id": "expected a UUID",
}


def _coordinate(raw: str, limit: float) -> float:
    value = float(raw)
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise Invalid(f"{raw.strip()} is outside -{limit:g}..{limit:g}")
    return value


def _text(raw: str, field: str) -> str:
    value = raw.strip()
    if not value:
        raise Invalid("is empty")
    if len(value) > MAX_LENGTH[field]:
        raise Invalid(f"is longer than {MAX_LENGTH[field]} characters")
    return value


Parser = Callable[[Sequence[str], int], Row | RowError]


def row_parser(columns: ColumnMap, zone_name: str, now: datetime | None = None) -> Parser:
    """A fast per-row function for one file: clean rows take the short path; anything odd is
    handed to :func:`checked_parser`, which finds the first problem and says which field it is in."""
    zone = ZoneInfo(zone_name)
    latest = (now or datetime.now(UTC)) + timedelta(days=1)
    slow = checked_parser(columns, zone, latest)
    ix = columns.index
    i_id, i_cat, i_at = ix["external_id"], ix["category"], ix["occurred_at"]
    i_src, i_lon, i_lat, i_nid = (ix.get(f, -1) for f in ("source", "longitude", "latitude", "neighbourhood_id"))
    categories: dict[str, str] = {}
    fromisoformat, to_uuid = datetime.fromisoformat, uuid.UUID

    def parse(cells: Sequence[str], line: int) -> Row | RowError:
        try:
            at = fromisoformat(cells[i_at])
            if at.tzinfo is None:
                at = at.replace(tzinfo=zone)
            source = cells[i_src] if i_src >= 0 else columns.default_source
            external_id = cells[i_id].strip()
            category = categories.get(cells[i_cat])
            lon = lat = nid = None
            if i_lon >= 0:
                lon, lat = float(cells[i_lon]), float(cells[i_lat])
            if i_nid >= 0 and cells[i_nid]:
                nid = to_uuid(cells[i_nid])
        except (ValueError, IndexError):
            return slow(cells, line)
        if (
            category is None
            or not (EARLIEST <= at <= latest)
            or not source
            or len(source) > 100
            or not external_id
            or len(external_id) > 200
            or (lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90))  # type: ignore[operator]
            or source != source.strip()
        ):
            row = slow(cells, line)
            if not isinstance(row, RowError):
                categories[cells[i_cat]] = row[3]
            return row
        return (line, source, external_id, category, at, lon, lat, nid)

    return parse


def checked_parser(columns: ColumnMap, zone: ZoneInfo, latest: datetime) -> Parser:
    """Reads one row field by field; the first problem becomes the row's line-numbered reason."""
    ix = columns.index
    width = max(ix.values()) + 1
    i_src, i_lon, i_lat, i_nid = (ix.get(f) for f in ("source", "longitude", "latitude", "neighbourhood_id"))

    def parse(cells: Sequence[str], line: int) -> Row | RowError:
        if len(cells) < width:
            return RowError(line, f"has {len(cells)} columns; the header has {width} or more")
        field = "occurred_at"
        try:
            at = parse_occurred_at(cells[ix[field]].strip(), zone)
            if not EARLIEST <= at <= latest:
                raise Invalid("is before 1900 or in the future")
            field = "source"
            has_source = i_src is not None and cells[i_src].strip()
            source = _text(cells[i_src], field) if has_source else columns.default_source  # type: ignore[index]
            if not source:
                raise Invalid("is empty and no default source was given")
            field = "external_id"
            external_id = _text(cells[ix[field]], field)
            field = "category"
            category = normalize_category(_text(cells[ix[field]], field))
            field, lon, lat = "longitude", None, None
            if i_lon is not None and (cells[i_lon].strip() or cells[i_lat].strip()):  # type: ignore[index]
                lon = _coordinate(cells[i_lon], 180)
                field = "latitude"
                lat = _coordinate(cells[i_lat], 90)  # type: ignore[index]
            field = "neighbourhood_id"
            nid = uuid.UUID(cells[i_nid]) if i_nid is not None and cells[i_nid].strip() else None
        except Invalid as exc:
            return RowError(line, f"{field} {exc}")
        except ValueError:
            shown = cells[ix[field]].strip()[:60] if field in ix else ""
            return RowError(line, f"{field}: cannot read {shown!r}; {HINTS.get(field, 'bad value')}")
        if lon is None and nid is None:
            return RowError(line, "needs longitude and latitude, or a neighbourhood_id")
        return (line, source, external_id, category, at, lon, lat, nid)

    return parse

"""The ``events`` collection over the events service's list: what to ask it, and what only the audits side can filter.

The events list filters on the local day an event starts; OGC's ``datetime``
selects what is going on at some time in the interval, from ``starts_at`` to
``ends_at``. So the list is asked from a month before the interval (the events
service refuses events longer than 31 days) and each event is then checked
exactly. The list has no spatial filter: the box is checked here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.audits.ogc.domain.standard import BBox, Interval

LONGEST_EVENT = timedelta(days=31)


def list_query(properties: Mapping[str, str], interval: Interval | None, zone: str) -> dict[str, str]:
    """Parameters of ``GET /v1/events`` that narrow the list without losing any event the OGC request selects."""
    query = dict(properties)  # kind, status and special mean the same there
    tz = ZoneInfo(zone)
    if interval and interval.start:
        query["from"] = (interval.start - LONGEST_EVENT).astimezone(tz).date().isoformat()
    if interval and interval.end:
        query["to"] = interval.end.astimezone(tz).date().isoformat()
    return query


def during(event: Mapping[str, Any], interval: Interval | None) -> bool:
    """Whether the event, from ``starts_at`` to ``ends_at`` (or the instant it starts), meets the interval."""
    if interval is None:
        return True
    starts = datetime.fromisoformat(event["starts_at"])
    ends = datetime.fromisoformat(event["ends_at"]) if event.get("ends_at") else starts
    return (interval.end is None or starts <= interval.end) and (interval.start is None or ends >= interval.start)


def in_box(feature: Mapping[str, Any], box: BBox | None) -> bool:
    """A feature placed nowhere (no location, no known neighbourhood) matches every box, as in every collection."""
    if box is None or feature["geometry"] is None:
        return True
    lon, lat = feature["geometry"]["coordinates"][:2]
    return box.contains(lon, lat)

"""A partnership's events as an iCalendar (RFC 5545) feed, built with ``icalendar``.

Cancelled events stay in the feed with ``STATUS:CANCELLED`` so subscribed
calendars remove them; ``SEQUENCE`` is the record's version so clients take
every change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from icalendar import Calendar, Event, vGeo

from shared.contracts.vocabulary import EventStatus

PRODID = "-//CPTED Partnerships Platform//events//EN"
UID_DOMAIN = "events.cpted.example.org"
_STATUS = {EventStatus.scheduled: "CONFIRMED", EventStatus.held: "CONFIRMED", EventStatus.cancelled: "CANCELLED"}


class Entry(Protocol):
    id: uuid.UUID
    version: int
    name: str
    kind: str
    special: bool
    starts_at: datetime
    ends_at: datetime | None
    location: dict[str, Any] | None
    status: str
    description: str | None
    updated_at: datetime


def _vevent(entry: Entry) -> Event:
    vevent = Event()
    vevent.add("uid", f"{entry.id}@{UID_DOMAIN}")
    vevent.add("dtstamp", entry.updated_at)
    vevent.add("last-modified", entry.updated_at)
    vevent.add("sequence", entry.version)
    vevent.add("summary", entry.name)
    vevent.add("dtstart", entry.starts_at)
    if entry.ends_at:
        vevent.add("dtend", entry.ends_at)
    vevent.add("status", _STATUS[EventStatus(entry.status)])
    categories = [entry.kind.replace("_", " ")] + (["special event"] if entry.special else [])
    vevent.add("categories", categories)
    if entry.description:
        vevent.add("description", entry.description)
    if entry.location:
        lon, lat = entry.location["coordinates"][:2]
        vevent.add("geo", vGeo((lat, lon)))
    return vevent


def build(name: str, entries: Iterable[Entry]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    for entry in entries:
        calendar.add_component(_vevent(entry))
    return bytes(calendar.to_ical())

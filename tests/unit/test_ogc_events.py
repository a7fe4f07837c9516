"""The events collection's pure rules: an event as a feature, what the events list is asked, exact time and box."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.audits.ogc.domain.events import during, in_box, list_query
from services.audits.ogc.domain.features import event
from services.audits.ogc.domain.standard import BBox, Interval

ZONE = "America/Toronto"
HOOD = uuid.UUID(int=7)
CENTROIDS = {HOOD: (-83.0, 42.3)}


def _event(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": str(uuid.UUID(int=1)),
        "partnership_ids": [str(uuid.UUID(int=2))],
        "name": "Glengarry summer festival",
        "kind": "festival",
        "special": True,
        "starts_at": "2025-07-12T15:00:00Z",
        "ends_at": "2025-07-12T21:00:00Z",
        "neighbourhood_id": str(HOOD),
        "location": {"type": "Point", "coordinates": [-83.01, 42.31]},
        "officers_attending": 4,
        "attendance": 350,
        "status": "cancelled",
        "description": None,
        "version": 3,
        "created_at": "2025-06-01T12:00:00Z",
        "updated_at": "2025-06-02T12:00:00Z",
    }
    return body | overrides


def test_an_event_is_a_point_with_its_status_and_no_bookkeeping() -> None:
    feature = event(_event(), CENTROIDS)
    assert (feature["id"], feature["geometry"]) == (str(uuid.UUID(int=1)), _event()["location"])
    props = feature["properties"]
    assert (props["status"], props["location_source"], props["special"]) == ("cancelled", "site", True)
    assert props["partnership_ids"] == [str(uuid.UUID(int=2))]
    assert not {"version", "created_at", "updated_at"} & set(props)


def test_without_a_location_an_event_sits_at_its_neighbourhoods_centroid_or_nowhere() -> None:
    placed = event(_event(location=None), CENTROIDS)
    assert placed["geometry"] == {"type": "Point", "coordinates": [-83.0, 42.3]}
    assert placed["properties"]["location_source"] == "neighbourhood_centroid"
    nowhere = event(_event(location=None, neighbourhood_id=None), CENTROIDS)
    assert (nowhere["geometry"], nowhere["properties"]["location_source"]) == (None, None)


def test_the_list_is_asked_from_a_month_before_the_interval_in_local_days() -> None:
    interval = Interval(datetime(2025, 7, 12, 3, tzinfo=UTC), datetime(2025, 8, 1, 3, tzinfo=UTC))
    assert list_query({"kind": "festival"}, interval, ZONE) == {
        "kind": "festival",
        "from": "2025-06-10",
        "to": "2025-07-31",
    }
    assert list_query({}, Interval(None, None), ZONE) == {} and list_query({}, None, ZONE) == {}


def test_an_event_meets_an_interval_while_it_is_going_on() -> None:
    def at(hour: int, day: int = 12) -> datetime:
        return datetime(2025, 7, day, hour, tzinfo=UTC)

    festival = _event()  # 15:00 to 21:00 UTC
    assert during(festival, None) and during(festival, Interval(at(20), at(23)))
    assert during(festival, Interval(at(21), None)) and during(festival, Interval(None, at(15)))
    assert not during(festival, Interval(at(22), None)) and not during(festival, Interval(None, at(14)))
    instant = _event(ends_at=None)
    assert during(instant, Interval(at(15), at(15))) and not during(instant, Interval(at(16), None))


def test_a_box_takes_points_inside_and_features_placed_nowhere() -> None:
    box = BBox(-83.05, 42.25, -82.95, 42.35)
    assert in_box(event(_event(), CENTROIDS), box) and in_box(event(_event(), CENTROIDS), None)
    assert not in_box(event(_event(location={"type": "Point", "coordinates": [-80.0, 43.0]}), CENTROIDS), box)
    assert in_box(event(_event(location=None, neighbourhood_id=None), CENTROIDS), box)

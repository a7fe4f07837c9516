"""Where things are: the neighbourhood around a point, and a neighbourhood's centroid (WGS84)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from shapely.geometry import Point

from shared.contracts.geo import stored_shape


def centroid(boundary: Mapping[str, Any]) -> tuple[float, float]:
    """``(longitude, latitude)`` of a GeoJSON polygon's centroid."""
    c = stored_shape(boundary).centroid
    return (c.x, c.y)


def point_of(location: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if not location:
        return None
    lon, lat = location["coordinates"][:2]
    return (float(lon), float(lat))


def neighbourhood_of(
    location: Mapping[str, Any], boundaries: Iterable[tuple[uuid.UUID, Mapping[str, Any]]]
) -> uuid.UUID | None:
    """The neighbourhood whose boundary covers the point; of overlapping ones the smallest, so the answer is stable."""
    here = Point(point_of(location))
    covering = [(area.area, str(id_), id_) for id_, b in boundaries if (area := stored_shape(b)).covers(here)]
    return min(covering)[2] if covering else None

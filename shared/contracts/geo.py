"""GeoJSON (RFC 7946, WGS84) geometries, validated with shapely."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from shapely.geometry import shape
from shapely.validation import explain_validity


def _check_position(position: list[float]) -> list[float]:
    if len(position) not in (2, 3):
        raise ValueError("a position is [longitude, latitude] or [longitude, latitude, elevation]")
    lon, lat = position[0], position[1]
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {lon} is outside -180..180")
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {lat} is outside -90..90")
    return position


def _check_ring(ring: list[list[float]]) -> None:
    if len(ring) < 4:
        raise ValueError("a linear ring needs at least 4 positions")
    if ring[0][:2] != ring[-1][:2]:
        raise ValueError("a linear ring must end where it starts")
    for position in ring:
        _check_position(position)


# Described as two or three numbers; checked by ``_check_position``, whose messages say what a position is.
InputPosition = Annotated[list[float], Field(json_schema_extra={"minItems": 2, "maxItems": 3})]


class Geometry(BaseModel):
    # NaN and Infinity are no coordinates (a JSON writer turns them into null, which no GIS reads).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def to_shape(self) -> Any:
        return shape(self.model_dump())


class Point(Geometry):
    type: Literal["Point"]
    coordinates: InputPosition

    @field_validator("coordinates")
    @classmethod
    def _position(cls, value: list[float]) -> list[float]:
        return _check_position(value)


class _Areal(Geometry):
    @model_validator(mode="after")
    def _valid_area(self) -> _Areal:
        geometry = self.to_shape()
        if not shapely.is_valid(geometry):
            raise ValueError(f"invalid {self.__class__.__name__}: {explain_validity(geometry)}")
        if geometry.area == 0:
            raise ValueError("the boundary encloses no area")
        return self


class Polygon(_Areal):
    type: Literal["Polygon"]
    coordinates: list[list[InputPosition]] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _rings(cls, value: list[list[list[float]]]) -> list[list[list[float]]]:
        for ring in value:
            _check_ring(ring)
        return value


class MultiPolygon(_Areal):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[InputPosition]]] = Field(min_length=1)

    @field_validator("coordinates")
    @classmethod
    def _polygons(cls, value: list[list[list[list[float]]]]) -> list[list[list[list[float]]]]:
        for polygon in value:
            if not polygon:
                raise ValueError("a polygon needs an exterior ring")
            for ring in polygon:
                _check_ring(ring)
        return value


Boundary = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]


def _positions(coordinates: Any, keep: Any) -> Any:
    if coordinates and not isinstance(coordinates[0], list):
        return keep(coordinates)
    return [_positions(part, keep) for part in coordinates]


def _finite(position: list[Any]) -> list[Any]:
    return list(position[:2]) + [v for v in position[2:3] if isinstance(v, int | float) and math.isfinite(v)]


def stored(geometry: Mapping[str, Any]) -> dict[str, Any]:
    """A stored GeoJSON geometry as it may be answered: an elevation that is no finite number is left out.

    Geometries stored before non-finite numbers were refused hold a null there.
    """
    return {**geometry, "coordinates": _positions(geometry["coordinates"], _finite)}


def stored_shape(geometry: Mapping[str, Any]) -> Any:
    """A stored GeoJSON geometry as a (2D) shapely geometry: nothing here measures elevation, whatever it holds."""
    return shape({**geometry, "coordinates": _positions(geometry["coordinates"], lambda p: p[:2])})


# Read models: the shapes as stored and served, described for clients, not validated again on the way out
# beyond leaving out what ``stored`` leaves out (a null elevation stored by an earlier version).
Position = Annotated[
    list[float],
    Field(min_length=2, max_length=3, description="[longitude, latitude] or [longitude, latitude, elevation], WGS84"),
]


class _Served(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _as_served(cls, data: Any) -> Any:
        return stored(data) if isinstance(data, dict) and isinstance(data.get("coordinates"), list) else data


class PointRead(_Served):
    type: Literal["Point"]
    coordinates: Position


class PolygonRead(_Served):
    type: Literal["Polygon"]
    coordinates: list[list[Position]] = Field(description="linear rings, the first the outer one")


class MultiPolygonRead(_Served):
    type: Literal["MultiPolygon"]
    coordinates: list[list[list[Position]]]


BoundaryRead = Annotated[PolygonRead | MultiPolygonRead, Field(discriminator="type")]
GeometryRead = Annotated[PointRead | PolygonRead | MultiPolygonRead, Field(discriminator="type")]
"""Any place the platform serves: a site's point or an area's boundary."""

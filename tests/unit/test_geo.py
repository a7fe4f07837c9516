"""GeoJSON boundaries and points: what a client may send and why the rest is refused."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.contracts.geo import Boundary, MultiPolygon, Point, Polygon, stored, stored_shape

boundary = TypeAdapter(Boundary)
point = TypeAdapter(Point)

SQUARE = [[-79.40, 43.65], [-79.39, 43.65], [-79.39, 43.66], [-79.40, 43.66], [-79.40, 43.65]]
OTHER_SQUARE = [[-79.30, 43.65], [-79.29, 43.65], [-79.29, 43.66], [-79.30, 43.66], [-79.30, 43.65]]


def polygon(*rings: list[list[float]]) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": list(rings)}


def test_a_valid_polygon_is_accepted() -> None:
    parsed = boundary.validate_python(polygon(SQUARE))
    assert isinstance(parsed, Polygon)
    assert parsed.to_shape().area > 0


def test_a_polygon_with_a_hole_is_accepted() -> None:
    hole = [[-79.398, 43.652], [-79.392, 43.652], [-79.392, 43.658], [-79.398, 43.652]]
    assert isinstance(boundary.validate_python(polygon(SQUARE, hole)), Polygon)


def test_a_valid_multipolygon_is_accepted() -> None:
    parsed = boundary.validate_python({"type": "MultiPolygon", "coordinates": [[SQUARE], [OTHER_SQUARE]]})
    assert isinstance(parsed, MultiPolygon)
    assert len(parsed.to_shape().geoms) == 2


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param(polygon([[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]), "Self-intersection", id="bow-tie"),
        pytest.param(polygon(SQUARE[:-1]), "must end where it starts", id="unclosed-ring"),
        pytest.param(polygon([[0, 0], [1, 0], [0, 0]]), "at least 4 positions", id="ring-of-3"),
        pytest.param(polygon([[200, 0], [1, 0], [1, 1], [200, 0]]), "longitude 200", id="longitude-200"),
        pytest.param(polygon([[0, -95], [1, 0], [1, 1], [0, -95]]), "latitude -95", id="latitude--95"),
        pytest.param(polygon([[0, 0], [1, 0], [2, 0], [0, 0]]), "(?i)self-intersection|no area", id="zero-area"),
        pytest.param({"type": "Point", "coordinates": [0, 0]}, "'Polygon', 'MultiPolygon'", id="wrong-type"),
        pytest.param({"type": "MultiPolygon", "coordinates": [[]]}, "exterior ring", id="empty-polygon"),
        pytest.param({"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE]]}, "MultiPolygon", id="overlapping"),
    ],
)
def test_a_bad_boundary_is_refused_naming_the_problem(value: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        boundary.validate_python(value)


def test_a_point_with_elevation_is_accepted() -> None:
    assert point.validate_python({"type": "Point", "coordinates": [-79.4, 43.65, 76]}).coordinates[2] == 76


@pytest.mark.parametrize(
    ("coordinates", "problem"),
    [([200, 0], "longitude 200"), ([0, -95], "latitude -95"), ([1], r"\[longitude, latitude\]")],
)
def test_a_bad_point_is_refused_naming_the_problem(coordinates: list[float], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        point.validate_python({"type": "Point", "coordinates": coordinates})


def test_a_point_with_the_wrong_type_tag_is_refused() -> None:
    with pytest.raises(ValidationError, match="'Point'"):
        point.validate_python({"type": "Polygon", "coordinates": [0, 0]})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_no_coordinates(number: float) -> None:
    with pytest.raises(ValidationError):
        point.validate_python({"type": "Point", "coordinates": [-79.4, 43.65, number]})
    with pytest.raises(ValidationError):
        boundary.validate_python(polygon([[*SQUARE[0], number], *SQUARE[1:]]))


def test_geometries_stored_with_a_null_elevation_are_still_read() -> None:
    """Before NaN was refused, a JSON writer stored it as null: such rows must not break a reader."""
    ring = [[*p, None] for p in SQUARE]
    ring[1] = [*SQUARE[1], 12.5]
    stored_polygon = polygon(ring)
    assert stored(stored_polygon)["coordinates"][0][0] == SQUARE[0]
    assert stored(stored_polygon)["coordinates"][0][1] == [*SQUARE[1], 12.5]
    assert stored_shape(stored_polygon).area > 0
    assert stored({"type": "Point", "coordinates": [-79.4, 43.65, None]}) == {
        "type": "Point",
        "coordinates": [-79.4, 43.65],
    }

"""Placing points in neighbourhoods, buffer rings in metres, and ranking for the next audits."""

from __future__ import annotations

import math
import uuid
from datetime import date

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from services.metrics.crime.domain.placement import Locator
from services.metrics.evaluation.domain import areas, targeting
from services.metrics.evaluation.domain.windows import Period

SMALL, BIG = uuid.UUID(int=1), uuid.UUID(int=2)


def test_a_point_on_a_shared_edge_goes_to_the_smaller_neighbourhood() -> None:
    locator = Locator([(BIG, box(-83.02, 42.30, -83.00, 42.32)), (SMALL, box(-83.03, 42.30, -83.02, 42.31))])
    placed = locator.place([-83.02, -83.025, -83.01, -83.5], [42.305, 42.305, 42.31, 42.0])
    assert placed == [SMALL, SMALL, BIG, None]


def test_placement_matches_a_brute_force_test_of_every_polygon() -> None:
    rng = np.random.default_rng(7)
    shapes = [
        (uuid.UUID(int=i + 10), shapely.Point(-83 + rng.random() * 0.1, 42.3 + rng.random() * 0.05).buffer(0.01))
        for i in range(12)
    ]  # overlapping circles, edges crossing many grid cells
    locator = Locator(shapes)
    lon, lat = -83.02 + rng.random(20_000) * 0.14, 42.28 + rng.random(20_000) * 0.09
    expected: list[uuid.UUID | None] = [None] * len(lon)
    for i, shape in sorted(shapes, key=lambda s: (s[1].area, str(s[0])), reverse=True):  # smallest wins: last
        for k in np.flatnonzero(shapely.intersects_xy(shape, lon, lat)):
            expected[k] = i
    assert locator.place(lon, lat) == expected


def test_utm_zones() -> None:
    assert areas.utm_crs(-83.03, 42.31) == "EPSG:32617"  # Windsor
    assert areas.utm_crs(151.2, -33.9) == "EPSG:32756"  # Sydney


def test_buffer_rings_are_measured_in_metres() -> None:
    projection = areas.Projection("EPSG:32617")
    x, y = 330_000.0, 4_686_000.0
    target = projection.to_degrees(box(x, y, x + 1000, y + 1000))
    control = projection.to_degrees(box(x + 5000, y, x + 6000, y + 1000))
    rings = areas.rings(target, [control], 100)
    # A 1 km square grown by 100 m: 4 * 1000 * 100 + pi * 100^2 = 431,416 m^2 (arcs drawn with short segments)
    assert rings.buffer.area == pytest.approx(400_000 + math.pi * 100**2, rel=2e-3)
    assert rings.buffer_control.area == pytest.approx(400_000 + math.pi * 100**2, rel=2e-3)
    points = projection.to_degrees(shapely.MultiPoint([(x - 50, y + 500), (x - 150, y + 500), (x + 6050, y)]))
    lonlat = shapely.get_coordinates(points)
    in_buffer, in_control = rings.count(lonlat[:, 0], lonlat[:, 1])
    assert in_buffer.tolist() == [True, False, False] and in_control.tolist() == [False, False, True]


def test_the_buffer_is_carved_out_of_the_control_and_the_buffer_control_leaves_out_the_buffer() -> None:
    projection = areas.Projection("EPSG:32617")
    x, y = 330_000.0, 4_686_000.0
    target = projection.to_degrees(box(x, y, x + 1000, y + 1000))
    neighbour = projection.to_degrees(box(x + 1050, y, x + 2050, y + 1000))  # 50 m to the east
    rings = areas.rings(target, [neighbour], 100)
    gap = Polygon([(x + 1000, y), (x + 1050, y), (x + 1050, y + 1000), (x + 1000, y + 1000)])
    assert rings.buffer.contains(gap.buffer(-1)) and not rings.buffer_control.intersects(gap.buffer(-1))
    # The control's 50 m strip nearest the target belongs to the buffer: displacement there is displacement.
    strip = Polygon([(x + 1050, y), (x + 1100, y), (x + 1100, y + 1000), (x + 1050, y + 1000)])
    assert rings.buffer.contains(strip.buffer(-1))
    assert rings.buffer.area == pytest.approx(400_000 + math.pi * 100**2, rel=2e-3)  # the whole ring


def test_a_default_control_around_the_target_leaves_the_buffer_its_own_area() -> None:
    # A 5 x 5 grid of 1 km squares; the target in the middle, the control every other square.
    projection = areas.Projection("EPSG:32617")
    x, y = 330_000.0, 4_686_000.0
    squares = {(i, j): projection.to_degrees(box(x + 1000 * i, y + 1000 * j, x + 1000 * (i + 1), y + 1000 * (j + 1)))
               for i in range(5) for j in range(5)}  # fmt: skip
    target = squares.pop((2, 2))
    rings = areas.rings(target, list(squares.values()), 400)
    # 4 * 1000 * 400 + pi * 400^2 = 2.10 km^2, none of it swallowed by the control
    assert rings.buffer.area == pytest.approx(1_600_000 + math.pi * 400**2, rel=2e-3)


def test_trend_is_called_only_when_the_counts_really_differ() -> None:
    # 10 -> 0: P(X = 0 or 10) for X ~ Binomial(10, 1/2) = 2/1024
    assert targeting.trend(10, 0) == ("up", pytest.approx(10 / math.sqrt(10)), pytest.approx(2 / 1024))
    assert targeting.trend(5, 3)[:2] == ("stable", pytest.approx(2 / math.sqrt(8)))  # z = 0.71
    assert targeting.trend(0, 0) == ("stable", None, None)
    assert targeting.trend(40, 70)[0] == "down"  # z = -30 / sqrt(110) = -2.86


def test_small_counts_are_judged_by_the_exact_binomial_test() -> None:
    # 4 -> 0: the normal approximation says z = 2.0 (p 0.046), the exact test 2 * (1/2)^4 = 0.125.
    assert targeting.trend(4, 0) == ("stable", pytest.approx(2.0), pytest.approx(0.125))
    # 0 -> 5: z = -2.24 (p 0.025); exact 2 * (1/2)^5 = 0.0625.
    assert targeting.trend(0, 5) == ("stable", pytest.approx(-5 / math.sqrt(5)), pytest.approx(0.0625))
    # 0 -> 6: exact 2/64 = 0.03125 < 0.05, so the fall is real.
    assert targeting.trend(0, 6)[0] == "down"


def test_ranking_by_rate_per_1000_with_the_unknown_population_last() -> None:
    places = [
        targeting.Place(uuid.UUID(int=1), "Dense", "Windsor", 1000),
        targeting.Place(uuid.UUID(int=2), "Large", "Windsor", 10_000),
        targeting.Place(uuid.UUID(int=3), "Unknown", "Windsor", None),
    ]
    counts = {uuid.UUID(int=1): [5, 5], uuid.UUID(int=2): [20, 10], uuid.UUID(int=3): [50, 0]}
    period = Period(date(2025, 1, 1), date(2025, 6, 30))  # 181 days
    rows = targeting.rank(places, counts, {uuid.UUID(int=2): date(2025, 1, 10)}, period, date(2025, 7, 10))
    assert [r["name"] for r in rows] == ["Dense", "Large", "Unknown"]
    dense, large = rows[0], rows[1]
    assert dense["rate_per_1000"] == 5.0  # 1000 * 5 / 1000
    assert dense["rate_per_1000_per_year"] == round(5.0 * 365.25 / 181, 3)
    assert (large["rate_per_1000"], large["change_percent"], large["days_since_last_audit"]) == (2.0, 100.0, 181)
    assert dense["last_audit_on"] is None and rows[2]["rate_per_1000"] is None

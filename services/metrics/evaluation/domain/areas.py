"""The areas of an evaluation and their buffer rings, in metres on the ground.

Boundaries arrive in WGS84 degrees; a buffer of ``buffer_m`` metres is only
meaningful in a metric projection, so rings are built in the UTM zone of
the target (17N for Windsor) and points are projected to the same zone
before they are tested.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping

WGS84 = "EPSG:4326"


def utm_crs(lon: float, lat: float) -> str:
    """The UTM zone (WGS84 datum) a point lies in, as an EPSG code."""
    zone = min(60, math.floor((lon + 180) / 6) + 1)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


@lru_cache(maxsize=16)
def _transformers(crs: str) -> tuple[Transformer, Transformer]:
    return (
        Transformer.from_crs(WGS84, crs, always_xy=True),
        Transformer.from_crs(crs, WGS84, always_xy=True),
    )


@dataclass(frozen=True)
class Projection:
    crs: str

    @classmethod
    def around(cls, geometry: Any) -> Projection:
        centre = geometry.centroid
        return cls(utm_crs(centre.x, centre.y))

    def to_metric(self, geometry: Any) -> Any:
        forward, _ = _transformers(self.crs)
        return shapely.transform(geometry, forward.transform, interleaved=False)

    def to_degrees(self, geometry: Any) -> Any:
        _, backward = _transformers(self.crs)
        return shapely.transform(geometry, backward.transform, interleaved=False)

    def points(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        forward, _ = _transformers(self.crs)
        x, y = forward.transform(lon, lat)
        return np.asarray(x), np.asarray(y)


@dataclass(frozen=True)
class Rings:
    """The buffer and buffer-control rings of one evaluation, in the projection's metres."""

    projection: Projection
    buffer: Any
    buffer_control: Any

    def count(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks of the points inside the buffer and inside the buffer control."""
        x, y = self.projection.points(lon, lat)
        return shapely.contains_xy(self.buffer, x, y), shapely.contains_xy(self.buffer_control, x, y)

    def buffer_bounds_degrees(self, margin: float = 1e-4) -> tuple[float, float, float, float]:
        """A WGS84 box around the buffer ring alone."""
        west, south, east, north = self.projection.to_degrees(self.buffer).bounds
        return west - margin, south - margin, east + margin, north + margin

    def bounds_degrees(self, margin: float = 1e-4) -> tuple[float, float, float, float]:
        """A WGS84 box around both rings, padded because projected edges bend slightly in degrees."""
        both = self.projection.to_degrees(shapely.union(self.buffer, self.buffer_control))
        west, south, east, north = both.bounds
        return west - margin, south - margin, east + margin, north + margin

    def geojson(self) -> dict[str, Any]:
        return {
            "crs": self.projection.crs,
            "buffer": mapping(self.projection.to_degrees(self.buffer)),
            "buffer_control": mapping(self.projection.to_degrees(self.buffer_control)),
        }


def rings(target: Any, control: Sequence[Any], buffer_m: float) -> Rings:
    """Buffer: the ring out to ``buffer_m`` around the target, minus the target; it is carved out of the
    control, never the other way round, so displacement into the control's edge is seen as displacement.
    Buffer control: the ring of the same width around what is left of the control, minus target, buffer
    and control."""
    projection = Projection.around(target)
    target_m = projection.to_metric(target)
    control_m = shapely.union_all([projection.to_metric(g) for g in control])
    buffer = target_m.buffer(buffer_m).difference(target_m)
    remaining_control = control_m.difference(buffer)
    taken = shapely.union_all([target_m, control_m, buffer])
    buffer_control = remaining_control.buffer(buffer_m).difference(taken)
    for ring in (buffer, buffer_control):
        shapely.prepare(ring)
    return Rings(projection, buffer, buffer_control)

"""Which neighbourhood a point lies in, for many points at once.

Points are bucketed into small grid cells (numpy, no geometry per point);
an STRtree over the boundaries finds the candidate boundaries of each cell.
A cell that lies wholly inside a boundary places all its points at once; only
points in cells crossed by an edge get the exact test, vectorised over
prepared polygons (fast even for boundaries with thousands of vertices).
A point on a shared edge, or inside two overlapping boundaries, goes to the
smallest of them (then the lowest id), so placement never depends on the order boundaries were learnt in.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely

from shared.contracts.geo import stored_shape

UNPLACED = -1
NONE = np.iinfo(np.int64).max
CELL_DEGREES = 0.002
"""About 200 m: small enough that most cells of a city lie wholly inside one neighbourhood."""


def _cell_keys(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    column = np.floor((lon + 180) / CELL_DEGREES).astype(np.int64)
    row = np.floor((lat + 90) / CELL_DEGREES).astype(np.int64)
    return column * 1_000_000 + row


def _cell_boxes(keys: np.ndarray) -> np.ndarray:
    west = (keys // 1_000_000) * CELL_DEGREES - 180
    south = (keys % 1_000_000) * CELL_DEGREES - 90
    return shapely.box(west, south, west + CELL_DEGREES, south + CELL_DEGREES)


class Locator:
    def __init__(self, boundaries: Iterable[tuple[uuid.UUID, Any]]) -> None:
        ranked = sorted(((g.area, str(i), i, g) for i, g in boundaries if g is not None and not g.is_empty))
        self.ids: list[uuid.UUID] = [i for _, _, i, _ in ranked]
        self.geometries: np.ndarray = np.empty(len(ranked), dtype=object)
        self.geometries[:] = [g for *_, g in ranked]
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)

    @classmethod
    def from_geojson(cls, boundaries: Iterable[tuple[uuid.UUID, dict[str, Any] | None]]) -> Locator:
        return cls((i, stored_shape(b)) for i, b in boundaries if b)

    def __len__(self) -> int:
        return len(self.ids)

    def ranks(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Rank (index into ``ids``) of each point's neighbourhood, ``UNPLACED`` where there is none."""
        result = np.full(len(lon), NONE, dtype=np.int64)
        if self.ids and len(lon):
            cells, inverse = np.unique(_cell_keys(lon, lat), return_inverse=True)
            cell_idx, ranks = self.tree.query(_cell_boxes(cells))
            whole = shapely.contains(np.take(self.geometries, ranks), _cell_boxes(cells[cell_idx]))
            best = np.full(len(cells), NONE, dtype=np.int64)
            np.minimum.at(best, cell_idx[whole], ranks[whole])
            result = best[inverse]
            edge = ~whole & (ranks < best[cell_idx])
            self._exact(result, inverse, cell_idx[edge], ranks[edge], lon, lat)
        result[result == NONE] = UNPLACED
        return result

    def _exact(
        self, result: np.ndarray, inverse: np.ndarray, cells: np.ndarray, ranks: np.ndarray, lon: np.ndarray,
        lat: np.ndarray,
    ) -> None:  # fmt: skip
        """Point-in-polygon for the points of the cells an edge crosses, one (point, boundary) pair per test."""
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        lengths = counts[cells]
        if not lengths.sum():
            return
        first = np.repeat(starts[cells] - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        points = order[first + np.arange(lengths.sum())]
        pair_ranks = np.repeat(ranks, lengths)
        hits = shapely.intersects_xy(np.take(self.geometries, pair_ranks), lon[points], lat[points])
        np.minimum.at(result, points[hits], pair_ranks[hits])

    def place(self, lon: Sequence[float], lat: Sequence[float]) -> list[uuid.UUID | None]:
        ranks = self.ranks(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        ids = self.ids
        return [ids[r] if r >= 0 else None for r in ranks.tolist()]

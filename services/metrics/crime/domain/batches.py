"""Reading a batch of CSV records column by column, at C speed, and row by row only when needed.

A clean batch (the usual case) is converted a column at a time: times with
``datetime.fromisoformat`` mapped over the column, coordinates by numpy,
sources and categories checked once per distinct value. Anything unusual in
a batch (an unreadable value, an empty field, a value out of range) sends
the whole batch to the row parser, which finds each bad row and says why;
the results are the same either way, only slower for a batch with problems.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from services.metrics.crime.domain.incidents import (
    EARLIEST,
    MAX_LENGTH,
    ColumnMap,
    Row,
    RowError,
    normalize_category,
    row_parser,
)

BatchParser = Callable[[list[list[str]], list[int]], list[Row | RowError]]


class Irregular(ValueError):
    """Something in the batch needs the row parser's eye."""


def _names(values: Sequence[str], field: str) -> dict[str, str]:
    """Each distinct value checked once: sources and categories repeat over a file."""
    checked = {}
    for value in set(values):
        if not value or value != value.strip() or len(value) > MAX_LENGTH[field]:
            raise Irregular(field)
        checked[value] = normalize_category(value) if field == "category" else value
    return checked


def _coordinates(values: Sequence[str], limit: float) -> list[float]:
    array = np.array(values, dtype=float)
    if not (np.isfinite(array).all() and (np.abs(array) <= limit).all()):
        raise Irregular("coordinate")
    return array.tolist()  # type: ignore[no-any-return]


def batch_parser(columns: ColumnMap, zone_name: str, now: datetime | None = None) -> BatchParser:
    zone = ZoneInfo(zone_name)
    latest = (now or datetime.now(UTC)) + timedelta(days=1)
    one_by_one = row_parser(columns, zone_name, now)
    ix = columns.index
    width = max(ix.values()) + 1
    i_src, i_lon, i_lat, i_nid = (ix.get(f, -1) for f in ("source", "longitude", "latitude", "neighbourhood_id"))

    def by_columns(rows: list[list[str]], lines: list[int]) -> list[Row | RowError]:
        if min(map(len, rows)) < width:
            raise Irregular("width")
        cols = list(zip(*rows, strict=False))
        moments = [
            m if m.tzinfo else m.replace(tzinfo=zone) for m in map(datetime.fromisoformat, cols[ix["occurred_at"]])
        ]
        if min(moments) < EARLIEST or max(moments) > latest:
            raise Irregular("occurred_at")
        n = len(rows)
        sources = cols[i_src] if i_src >= 0 else (columns.default_source or "",) * n
        _names(sources, "source")
        external_ids = cols[ix["external_id"]]
        if min(map(len, external_ids)) == 0 or max(map(len, external_ids)) > MAX_LENGTH["external_id"]:
            raise Irregular("external_id")
        if list(map(str.strip, external_ids)) != list(external_ids):
            raise Irregular("external_id")
        categories = list(map(_names(cols[ix["category"]], "category").__getitem__, cols[ix["category"]]))
        lons = _coordinates(cols[i_lon], 180) if i_lon >= 0 else (None,) * n
        lats = _coordinates(cols[i_lat], 90) if i_lat >= 0 else (None,) * n
        nids = [uuid.UUID(v) if v else None for v in cols[i_nid]] if i_nid >= 0 else (None,) * n
        if i_lon < 0 and None in nids:
            raise Irregular("neighbourhood_id")
        return list(zip(lines, sources, external_ids, categories, moments, lons, lats, nids, strict=True))

    def parse(rows: list[list[str]], lines: list[int]) -> list[Row | RowError]:
        try:
            return by_columns(rows, lines)
        except (ValueError, TypeError):
            return [one_by_one(cells, line) for cells, line in zip(rows, lines, strict=True)]

    return parse

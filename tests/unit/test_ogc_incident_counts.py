"""The incident-counts collection's pure rules: local months, the neighbourhood x month grid, suppression."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from services.audits.ogc.domain.counts import (
    TOTAL,
    cell_id,
    count_feature,
    grid_page,
    month_span,
    months_matching,
    parse_cell_id,
    suppress,
    tables,
)
from services.audits.ogc.domain.standard import Interval, OgcError

ZONE = "America/Toronto"
A, B, C = (uuid.UUID(int=n) for n in (1, 2, 3))


def test_months_are_the_datas_newest_first_cut_by_the_interval_in_local_time() -> None:
    first, last = date(2025, 1, 1), date(2025, 4, 1)
    assert months_matching(first, last, None, ZONE) == [date(2025, m, 1) for m in (4, 3, 2, 1)]
    # 1 March 03:00 UTC is still 28 February in Toronto: February is met.
    late = Interval(datetime(2025, 3, 1, 3, tzinfo=UTC), None)
    assert months_matching(first, last, late, ZONE) == [date(2025, 4, 1), date(2025, 3, 1), date(2025, 2, 1)]
    within = Interval(None, datetime(2025, 1, 15, tzinfo=UTC))
    assert months_matching(first, last, within, ZONE) == [date(2025, 1, 1)]
    assert months_matching(first, last, Interval(datetime(2026, 1, 1, tzinfo=UTC), None), ZONE) == []
    assert months_matching(None, None, None, ZONE) == []


def test_a_month_spans_local_midnight_to_local_midnight() -> None:
    start, end = month_span(date(2025, 3, 1), ZONE)
    assert (start.isoformat(), end.isoformat()) == ("2025-03-01T00:00:00-05:00", "2025-03-31T23:59:59-04:00")
    assert month_span(date(2025, 12, 1), ZONE)[1].isoformat() == "2025-12-31T23:59:59-05:00"


def test_the_grid_pages_by_the_last_cell_served() -> None:
    months = [date(2025, 2, 1), date(2025, 1, 1)]
    cells, cursor = grid_page(months, [B, A, C], None, 4)
    assert cells == [(months[0], A), (months[0], B), (months[0], C), (months[1], A)]
    assert cursor == cell_id((months[1], A)) and parse_cell_id(cursor) == (months[1], A)
    rest, end = grid_page(months, [A, B, C], cursor, 4)
    assert (rest, end) == ([(months[1], B), (months[1], C)], None)
    # A neighbourhood gone between two pages shifts nothing: the page resumes after the cell served.
    assert grid_page(months, [A, C], cell_id((months[0], B)), 1)[0] == [(months[0], C)]
    assert grid_page([], [A], None, 10) == ([], None) and grid_page(months, [], None, 10) == ([], None)
    with pytest.raises(OgcError):
        grid_page(months, [A], "nonsense", 1)


def test_counts_from_1_to_4_are_suppressed_and_zero_is_not() -> None:
    assert suppress({"theft": 3}, ["assault", "theft"]) == {"assault": 0, "theft": None, TOTAL: None}
    assert suppress({"theft": 5, "assault": 4, "mischief": 1}, ["assault", "mischief", "theft"]) == {
        "assault": None, "mischief": None, "theft": 5, TOTAL: 10,
    }  # fmt: skip
    assert suppress({}, ["theft"]) == {"theft": 0, TOTAL: 0}
    assert suppress({"theft": 5, "assault": 6}, ["assault", "theft"]) == {"assault": 6, "theft": 5, TOTAL: 11}


def test_a_lone_suppressed_count_is_not_left_to_subtraction_from_the_total() -> None:
    # theft = 41 - 30 - 9 if only theft were suppressed: mischief, the smallest other count, goes too.
    published = suppress(
        {"theft": 2, "assault": 30, "mischief": 9, "arson": 0}, ["arson", "assault", "mischief", "theft"]
    )
    assert published == {"arson": 0, "assault": 30, "mischief": None, "theft": None, TOTAL: 41}
    # A lone small count with only zeros beside it is the total itself: both are suppressed.
    assert suppress({"theft": 0, "assault": 2}, ["assault", "theft"]) == {"assault": None, "theft": 0, TOTAL: None}


def test_features_carry_every_category_and_zeros_where_nothing_happened() -> None:
    hood = SimpleNamespace(id=A, name="Glengarry", municipality="Windsor", boundary={"type": "Polygon"})
    feature = count_feature(hood, date(2025, 2, 1), suppress({}, ["assault", "theft"]), ["assault", "theft"])
    assert feature["id"] == f"{A}_2025-02" and feature["geometry"] == {"type": "Polygon"}
    assert feature["properties"] == {
        "neighbourhood_id": str(A), "neighbourhood": "Glengarry", "municipality": "Windsor",
        "month": "2025-02", "month_start": "2025-02-01", "month_end": "2025-02-28",
        "incidents": 0, "incidents_assault": 0, "incidents_theft": 0,
    }  # fmt: skip
    hidden = count_feature(hood, date(2024, 2, 1), suppress({"theft": 1}, ["theft"]), ["theft"])["properties"]
    assert (hidden["incidents"], hidden["incidents_theft"], hidden["month_end"]) == (None, None, "2024-02-29")


def test_the_metrics_cells_become_one_table_per_month() -> None:
    items = [
        {"neighbourhood_id": str(A), "month": "2025-01", "category": "theft", "incidents": 3},
        {"neighbourhood_id": str(A), "month": "2025-01", "category": "assault", "incidents": 1},
        {"neighbourhood_id": str(B), "month": "2025-02", "category": "theft", "incidents": 8},
    ]
    assert tables(items) == {
        date(2025, 1, 1): {A: {"theft": 3, "assault": 1}},
        date(2025, 2, 1): {B: {"theft": 8}},
    }

"""The ``incident-counts`` collection: a neighbourhood x month grid of crime counts, small counts suppressed.

Every neighbourhood has a feature for every month from the first to the last
month with a placed incident, zeros included, so that a map of a month shows
"none" rather than a hole. Months are America/Toronto calendar months.

Suppression, as Ontario's published statistics do it: a count from 1 to 4 is
published as null; zero is published (it discloses nothing about anyone). A
lone suppressed category count could be recovered by subtracting the others
from the feature's total, so then the smallest other non-zero count is
suppressed too. A feature depends on no other, so no two requests can publish
different values for the same cell.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.audits.ogc.domain.features import feature
from services.audits.ogc.domain.standard import Interval, invalid

SMALLEST, LARGEST = 1, 4
TOTAL = "incidents"
Cell = tuple[date, uuid.UUID]


def parse_month(text: str) -> date:
    return date.fromisoformat(f"{text}-01")


def month_text(month: date) -> str:
    return month.strftime("%Y-%m")


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_span(month: date, zone: str) -> tuple[datetime, datetime]:
    """The first and the last instant (to the second) of a local month."""
    tz = ZoneInfo(zone)
    return datetime.combine(month, time(), tz), datetime.combine(next_month(month), time(), tz) - timedelta(seconds=1)


def months_matching(first: date | None, last: date | None, interval: Interval | None, zone: str) -> list[date]:
    """The months of the data (``first``..``last``) that meet the interval, newest first."""
    if first is None or last is None:
        return []
    tz = ZoneInfo(zone)
    if interval and interval.start:
        first = max(first, interval.start.astimezone(tz).date().replace(day=1))
    if interval and interval.end:
        last = min(last, interval.end.astimezone(tz).date().replace(day=1))
    months = []
    while first <= last:
        months.append(first)
        first = next_month(first)
    return months[::-1]


def cell_id(cell: Cell) -> str:
    return f"{cell[1]}_{month_text(cell[0])}"


def parse_cell_id(text: str) -> Cell | None:
    hood, _, month = text.partition("_")
    try:
        return parse_month(month), uuid.UUID(hood)
    except ValueError:
        return None


def grid_page(
    months: Sequence[date], hoods: Sequence[uuid.UUID], after: str | None, limit: int
) -> tuple[list[Cell], str | None]:
    """One page of the grid (months newest first, then neighbourhoods by id) after the cursor, and the next cursor.

    The cursor is the last cell served, not a position: a month or neighbourhood added between two pages
    shifts nothing."""
    ordered = sorted(hoods, key=str)
    start = 0
    if after is not None:
        cell = parse_cell_id(after)
        if cell is None:
            raise invalid("cursor", "not one this API issued")
        newer = sum(1 for m in months if m > cell[0])
        start = newer * len(ordered) + (sum(1 for h in ordered if str(h) <= str(cell[1])) if cell[0] in months else 0)
    end = min(start + limit, len(months) * len(ordered))
    cells = [(months[i // len(ordered)], ordered[i % len(ordered)]) for i in range(start, end)]
    more = end < len(months) * len(ordered)
    return cells, (cell_id(cells[-1]) if cells and more else None)


def tables(items: Iterable[Mapping[str, Any]]) -> dict[date, dict[uuid.UUID, dict[str, int]]]:
    """The metrics service's non-zero cells, as one table per month: neighbourhood -> category -> incidents."""
    found: dict[date, dict[uuid.UUID, dict[str, int]]] = {}
    for item in items:
        row = found.setdefault(parse_month(item["month"]), {}).setdefault(uuid.UUID(item["neighbourhood_id"]), {})
        row[item["category"]] = int(item["incidents"])
    return found


def suppress(counts: Mapping[str, int], categories: Sequence[str]) -> dict[str, int | None]:
    """One feature's counts by category and in all (``TOTAL``), the suppressed ones None."""
    values = {c: counts.get(c, 0) for c in categories}
    values[TOTAL] = sum(values.values())
    hidden = {key for key, value in values.items() if SMALLEST <= value <= LARGEST}
    if len(hidden) == 1 and TOTAL not in hidden:  # the total minus the rest would give it back
        others = [c for c in categories if c not in hidden and values[c] > 0]
        hidden.add(min(others, key=lambda c: (values[c], c)) if others else TOTAL)
    return {key: None if key in hidden else value for key, value in values.items()}


def count_feature(hood: Any, month: date, counts: Mapping[str, int | None], categories: Sequence[str]) -> Any:
    """A neighbourhood's polygon with its counts of one month, as ``suppress`` leaves them."""
    props: dict[str, Any] = {
        "neighbourhood_id": str(hood.id),
        "neighbourhood": hood.name,
        "municipality": hood.municipality,
        "month": month_text(month),
        "month_start": month.isoformat(),
        "month_end": (next_month(month) - timedelta(days=1)).isoformat(),
        TOTAL: counts[TOTAL],
    }
    props |= {f"incidents_{c}": counts[c] for c in categories}
    return feature(cell_id((month, hood.id)), hood.boundary, props)

"""Small-count suppression of the feed's small-area cells, as statistics agencies do it.

Primary: a count from 1 to 4 in a small-area cell (a neighbourhood's or a
partnership's breakdown by category or status) is not published. Zero is
published: it discloses nothing about anyone.

Complementary: a lone suppressed cell could be recovered by subtraction, from
its breakdown's total (the rest of the row) or from the programme-wide figure
(the rest of the column, across neighbourhoods). So wherever a row or a column
has exactly one suppressed cell, the smallest other non-zero cell of that line
is suppressed too; when there is none, the line's total is. This repeats until
no line has a lone suppressed cell. It defeats subtraction within a row and
within a column; it is not a full linear-programming cell suppression.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace

from services.metrics.cswb.domain.indicators import CATALOGUE, PERIODS, Indicator

SMALLEST, LARGEST = 1, 4
MARGIN = -1
"""Block index of the programme-wide figures, the margin of every column."""

Cell = tuple[int, str, str | None, str]
"""(block, indicator, key, period)"""
Blocks = Sequence[Sequence[Indicator]]


def is_small(value: object) -> bool:
    return isinstance(value, int) and SMALLEST <= value <= LARGEST


def _cells(blocks: Blocks, margin: Sequence[Indicator]) -> dict[Cell, int]:
    """Every count of a breakdown or of a breakdown's total, by cell."""
    totals = {spec.total for spec in CATALOGUE.values() if spec.total}
    cells: dict[Cell, int] = {}
    for b, block in [*enumerate(blocks), (MARGIN, margin)]:
        for row in block:
            if row.key is None and row.indicator not in totals:
                continue
            if CATALOGUE[row.indicator].unit != "count":
                continue
            for period, value in row.values.items():
                if isinstance(value, int):
                    cells[(b, row.indicator, row.key, period)] = value
    return cells


def _lines(cells: dict[Cell, int], group_of: Sequence[int]) -> list[tuple[list[Cell], Cell | None]]:
    """Each row (a block's breakdown in one period) and column (one cell across a group's blocks), with its total."""
    rows: dict[tuple[int, str, str], list[Cell]] = defaultdict(list)
    columns: dict[tuple[int, str, str | None, str], list[Cell]] = defaultdict(list)
    for cell in cells:
        b, indicator, key, period = cell
        if key is None:
            continue
        rows[(b, indicator, period)].append(cell)
        if b != MARGIN:
            columns[(group_of[b], indicator, key, period)].append(cell)
    lines: list[tuple[list[Cell], Cell | None]] = []
    for (b, indicator, period), members in rows.items():
        total = (b, CATALOGUE[indicator].total or "", None, period)
        lines.append((members, total if total in cells else None))
    for (_, indicator, key, period), members in columns.items():
        margin = (MARGIN, indicator, key, period)
        lines.append((members, margin if margin in cells else None))
    return lines


def hidden_cells(cells: dict[Cell, int], lines: Iterable[tuple[list[Cell], Cell | None]]) -> set[Cell]:
    hidden = {cell for cell, value in cells.items() if cell[0] != MARGIN and is_small(value)}
    lines = list(lines)
    changed = True
    while changed:
        changed = False
        for members, total in lines:
            if sum(cell in hidden for cell in members) != 1:
                continue
            candidates = [cell for cell in members if cell not in hidden and cells[cell] > 0]
            extra = min(candidates, key=lambda cell: cells[cell]) if candidates else total
            if extra is not None and extra not in hidden:
                hidden.add(extra)
                changed = True
    return hidden


def _apply(rows: Sequence[Indicator], b: int, hidden: set[Cell]) -> list[Indicator]:
    out = []
    for row in rows:
        gone = tuple(p for p in PERIODS if (b, row.indicator, row.key, p) in hidden)
        if gone:
            values = {p: (None if p in gone else v) for p, v in row.values.items()}
            row = replace(row, values=values, suppressed=gone)
        out.append(row)
    return out


def suppress(
    groups: Sequence[Blocks], margin: Sequence[Indicator]
) -> tuple[list[list[list[Indicator]]], list[Indicator]]:
    """Groups of small-area blocks (neighbourhoods, partnerships) and their programme-wide margin,
    with the suppressed cells set to None."""
    blocks = [block for group in groups for block in group]
    group_of = [g for g, group in enumerate(groups) for _ in group]
    cells = _cells(blocks, margin)
    hidden = hidden_cells(cells, _lines(cells, group_of))
    out: list[list[list[Indicator]]] = []
    start = 0
    for group in groups:
        out.append([_apply(block, start + i, hidden) for i, block in enumerate(group)])
        start += len(group)
    return out, _apply(margin, MARGIN, hidden)


RULE = (
    f"Small-count suppression: in the neighbourhood and partnership blocks, a count from {SMALLEST} to {LARGEST} "
    "in a breakdown cell (an indicator with a 'key': by category or by status) is not published: its value is "
    "null and its period is listed in 'suppressed' (the CSV twin leaves the value empty and puts 'x' in "
    "'status'). Zero is published. Complementary suppression: wherever a breakdown (row) or the same cell across "
    "neighbourhoods or partnerships (column) has exactly one suppressed cell, the smallest other non-zero cell "
    "of that line is suppressed too, or, if there is none, the line's total (the breakdown's total indicator, or "
    "the programme-wide cell); repeated until no line has a lone suppressed cell."
)

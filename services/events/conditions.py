"""The conditions every list of the events service builds alike: filters that are given, and periods."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def equal(model: Any, **values: Any) -> list[Any]:
    """``column == value`` for every filter given (``None`` means not filtered)."""
    return [getattr(model, name) == value for name, value in values.items() if value is not None]


def within(column: Any, start: Any, end: Any) -> list[Any]:
    """``start <= column <= end``; ``end`` excluded instead for instants (half-open bounds of local days)."""
    conditions = [] if start is None else [column >= start]
    if end is not None:
        conditions.append(column < end if isinstance(end, datetime) else column <= end)
    return conditions

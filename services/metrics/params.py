"""What the metrics routers read from a request besides their own parameters: the categories filter, the clock."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from services.metrics.crime.domain.incidents import normalize_category
from shared.clock import Clock

CategoriesQ = Annotated[
    list[str], Query(description="crime categories, repeatable or comma-separated; all when absent", max_length=100)
]


def split_values(values: list[str], *, normalise: bool = False) -> list[str]:
    """``?x=a&x=b`` and ``?x=a,b`` mean the same."""
    parts = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return sorted({normalize_category(p) for p in parts}) if normalise else parts


def _clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


ClockDep = Annotated[Clock, Depends(_clock)]
"""The app's clock: now, and today in the programme's local time zone."""

"""Query parameters and request context shared by the crime statistics routers."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request

from services.metrics.crime.domain.incidents import normalize_category
from services.metrics.evaluation.domain.windows import local_today

CategoriesQ = Annotated[
    list[str], Query(description="crime categories, repeatable or comma-separated; all when absent", max_length=100)
]


def split_values(values: list[str], *, normalise: bool = False) -> list[str]:
    """``?x=a&x=b`` and ``?x=a,b`` mean the same."""
    parts = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return sorted({normalize_category(p) for p in parts}) if normalise else parts


def zone_of(request: Request) -> str:
    return str(request.app.state.settings.local_timezone)


def today_of(request: Request) -> date:
    return local_today(zone_of(request))

"""The crime categories filter, as the crime statistics and evaluation routers read it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from services.metrics.crime.domain.incidents import normalize_category

CategoriesQ = Annotated[
    list[str], Query(description="crime categories, repeatable or comma-separated; all when absent", max_length=100)
]


def split_values(values: list[str], *, normalise: bool = False) -> list[str]:
    """``?x=a&x=b`` and ``?x=a,b`` mean the same."""
    parts = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return sorted({normalize_category(p) for p in parts}) if normalise else parts

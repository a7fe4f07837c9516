"""``GET /v1/crime-incidents/counts``: incidents per neighbourhood, category and local month, from the daily counts.

Aggregates only, never incident rows: this is what the audits service
publishes as the OGC API collection ``incident-counts`` (neighbourhood
polygons, counts by category and month, small counts suppressed there). Months
are America/Toronto calendar months, the local days the incidents are counted on.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from services.metrics.crime.api.categories import CategoriesQ, split_values
from services.metrics.crime.handlers import reads
from shared.auth.keys import ReaderKey
from shared.errors import InvalidField
from shared.web.http import SessionDep

router = APIRouter(prefix="/v1/crime-incidents/counts", tags=["crime statistics"])

MONTH = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$"  # 1900-01 to 2999-12: no calendar arithmetic can overflow


class MonthlyCount(BaseModel):
    neighbourhood_id: uuid.UUID
    month: str
    category: str
    incidents: int


class MonthlyCounts(BaseModel):
    items: list[MonthlyCount]


class CountsExtent(BaseModel):
    first_month: str | None
    last_month: str | None
    categories: list[str]


def _first_day(month: str) -> date:
    return date.fromisoformat(f"{month}-01")


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@router.get(
    "",
    response_model=MonthlyCounts,
    summary="Incidents per neighbourhood, category and month (non-zero cells only)",
)
async def monthly_counts(
    session: SessionDep,
    principal: ReaderKey,
    start: Annotated[str, Query(alias="from", pattern=MONTH, description="first month, YYYY-MM (local)")],
    end: Annotated[str, Query(alias="to", pattern=MONTH, description="last month, YYYY-MM (inclusive)")],
    neighbourhood_id: Annotated[list[uuid.UUID], Query(description="repeatable; all when absent")] = [],  # noqa: B006
    categories: CategoriesQ = [],  # noqa: B006
) -> dict[str, object]:
    """Cells with no incident are left out: a caller laying out a complete table takes its months and
    categories from ``/counts/extent``."""
    if start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")
    return await reads.monthly_counts(
        session,
        _first_day(start),
        _next_month(_first_day(end)),
        neighbourhood_id,
        split_values(categories, normalise=True),
    )


@router.get("/extent", response_model=CountsExtent, summary="The months and categories the counts cover")
async def counts_extent(session: SessionDep, principal: ReaderKey) -> dict[str, object]:
    """From the first to the last month with an incident placed in a neighbourhood; null months when none is."""
    return await reads.extent(session)

"""``/v1/targeting``: neighbourhoods ranked for the next audits."""

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from services.metrics.crime.api.categories import CategoriesQ, split_values
from services.metrics.evaluation.api.schemas import TargetingRead
from services.metrics.evaluation.domain.windows import Period
from services.metrics.evaluation.handlers import targeting
from shared.auth.keys import ReaderKey
from shared.contracts.fields import Day
from shared.errors import InvalidField
from shared.web.http import ClockDep, SessionDep
from shared.web.pagination import MAX_LIMIT

router = APIRouter(prefix="/v1/targeting", tags=["targeting"])

MAX_PERIOD_DAYS = 3660


def _period(start: date | None, end: date | None, today: date) -> Period:
    """Default: the 365 local days that ended yesterday."""
    end = end or today - timedelta(days=1)
    start = start or end - timedelta(days=364)
    if start > end:
        raise InvalidField("'from' is after 'to'", field="query.from")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InvalidField(f"the period is longer than {MAX_PERIOD_DAYS} days", field="query.from")
    return Period(start, end)


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise InvalidField("cursor is not one this API issued", field="query.cursor")
    return int(cursor)


@router.get("", response_model=TargetingRead, summary="Neighbourhoods ranked for the next audits")
async def rank_neighbourhoods(
    clock: ClockDep,
    session: SessionDep,
    principal: ReaderKey,
    start: Annotated[
        Day | None, Query(alias="from", description="first local day; default 365 days before 'to'")
    ] = None,
    end: Annotated[Day | None, Query(alias="to", description="last local day; default yesterday")] = None,
    categories: CategoriesQ = [],  # noqa: B006
    municipality: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=10)] = None,
) -> dict[str, Any]:
    """Incidents per 1,000 residents over the period, the trend against the previous period of equal length,
    and the days since each neighbourhood's last audit; highest rate first."""
    today = clock.today()
    return await targeting.rank(
        session,
        _period(start, end, today),
        categories=split_values(categories, normalise=True),
        municipality=municipality,
        today=today,
        offset=_offset(cursor),
        limit=limit,
    )

"""``/v1/evaluations``: an audit's before/after evaluation, its estimators and chart, the category map, the
pooled summary."""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from services.metrics.crime.api.categories import CategoriesQ, split_values
from services.metrics.evaluation.api.schemas import (
    CategoryMapCreate,
    CategoryMapPage,
    CategoryMapRead,
    EstimatorsRead,
    EvaluationRead,
    FamiliesRead,
    SummaryRead,
)
from services.metrics.evaluation.domain.estimators import outcome_families
from services.metrics.evaluation.domain.windows import MAX_WINDOW_DAYS, MIN_WINDOW_DAYS
from services.metrics.evaluation.handlers import category_maps, charts, estimators, evaluations, summary
from services.metrics.evaluation.store.category_maps import SHIPPED
from shared.auth.keys import CurrentKey, ReaderKey
from shared.errors import InvalidField
from shared.web.http import ClockDep, SessionDep
from shared.web.pagination import MAX_LIMIT

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])

WindowDaysQ = Annotated[
    int, Query(ge=MIN_WINDOW_DAYS, le=MAX_WINDOW_DAYS, description="length of each window in local days")
]


EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
"""Given implementation dates stay where windows of up to five years and the dispersion's history exist."""


FamilyQ = Annotated[
    str,
    Query(
        max_length=100,
        description="outcome family: all (default), or one of the category map's families "
        f"(in the shipped map: {', '.join(sorted(SHIPPED.families))}); see GET /v1/evaluations/category-map",
    ),
]
IncludeIncompleteQ = Annotated[bool, Query(description="also pool audits whose after window is running")]
CategoryMapVersionQ = Annotated[
    int | None,
    Query(ge=1, le=1_000_000, description="the category map version to use (default: the current one)"),
]


def _params(
    window_days: WindowDaysQ = 365,
    categories: CategoriesQ = [],  # noqa: B006
    buffer_m: Annotated[float | None, Query(gt=0, le=10_000, description="buffer ring width in metres")] = None,
    control_neighbourhood_ids: Annotated[
        list[str],
        Query(description="control neighbourhoods, repeatable or comma-separated; default: the untreated others"),
    ] = [],  # noqa: B006
    implementation: Annotated[
        evaluations.Implementation,
        Query(
            description="implementation period left out of both windows: from the first to the last implemented_on "
            "(implemented), the first implemented_on alone (first_implemented), or from the first day a "
            "recommendation went in progress to the last implemented_on (first_in_progress)"
        ),
    ] = "implemented",
    implementation_from: Annotated[
        date | None, Query(description="given implementation period: first day (with implementation_to)")
    ] = None,
    implementation_to: Annotated[date | None, Query(description="given implementation period: last day")] = None,
    family: FamilyQ = outcome_families.ALL,
    category_map_version: CategoryMapVersionQ = None,
) -> evaluations.Params:
    try:
        controls = tuple(uuid.UUID(v) for v in split_values(control_neighbourhood_ids))
    except ValueError:
        raise InvalidField("not a list of UUIDs", field="query.control_neighbourhood_ids") from None
    given = None
    if (implementation_from is None) != (implementation_to is None):
        missing = "implementation_to" if implementation_to is None else "implementation_from"
        raise InvalidField("give both ends of the implementation period", field=f"query.{missing}")
    for name, day in (("implementation_from", implementation_from), ("implementation_to", implementation_to)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidField(f"must be between {EARLIEST} and {LATEST}", field=f"query.{name}")
    if implementation_from is not None and implementation_to is not None:
        if implementation_to < implementation_from:
            raise InvalidField("the implementation period ends before it starts", field="query.implementation_to")
        given = (implementation_from, implementation_to)
    return evaluations.Params(
        window_days,
        tuple(split_values(categories, normalise=True)),
        buffer_m,
        controls,
        implementation=implementation,
        implementation_period=given,
        family=family,
        category_map_version=category_map_version,
    )


ParamsDep = Annotated[evaluations.Params, Depends(_params)]


# The audit cannot be evaluated yet: its neighbourhood's boundary is unknown to metrics, or no control area.
MISSING_DATA: dict[int | str, dict[str, Any]] = {409: {"description": "Not enough data to evaluate: see `missing`"}}


@router.get(
    "/audits/{audit_id}",
    response_model=EvaluationRead,
    summary="Before/after evaluation of one audit",
    responses=MISSING_DATA,
)
async def evaluate_audit(
    audit_id: uuid.UUID, clock: ClockDep, session: SessionDep, principal: ReaderKey, params: ParamsDep
) -> dict[str, Any]:
    """Definitions: docs/evaluation.md. Every count can be checked with `GET /v1/crime-incidents` and the windows."""
    return await evaluations.audit_evaluation(
        session, principal, audit_id, params, zone=clock.zone_name, today=clock.today()
    )


@router.get(
    "/audits/{audit_id}/estimators",
    response_model=EstimatorsRead,
    summary="Every estimator of one audit beside its primary outcome",
    responses=MISSING_DATA,
)
async def audit_estimators(
    audit_id: uuid.UUID, clock: ClockDep, session: SessionDep, principal: ReaderKey, params: ParamsDep
) -> dict[str, Any]:
    """Empirical Bayes, seasonal GLM with pre-trend test, synthetic control, harm-weighted WDD and power, each with
    its figures or the reason it gives none. Definitions: docs/estimators.md and docs/evaluation.md."""
    return await estimators.estimators(session, principal, audit_id, params, zone=clock.zone_name, today=clock.today())


@router.get("/category-map", response_model=CategoryMapRead, summary="The category map that defines outcome families")
async def category_map(
    session: SessionDep,
    principal: ReaderKey,
    version: Annotated[int | None, Query(ge=1, le=1_000_000, description="default: the current version")] = None,
) -> dict[str, Any]:
    return (await category_maps.one(session, version)).to_row()


@router.get("/category-maps", response_model=CategoryMapPage, summary="Every version of the category map")
async def list_category_maps(
    session: SessionDep,
    principal: ReaderKey,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (max 500)")] = 50,
    cursor: Annotated[str | None, Query(max_length=300, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """Newest first; the shipped map is version 1."""
    found, next_cursor = await category_maps.page(session, cursor, limit)
    return {"items": [m.to_row() for m in found], "next_cursor": next_cursor}


@router.post(
    "/category-maps",
    status_code=201,
    response_model=CategoryMapRead,
    summary="Store a new version of the category map (admins)",
    responses={409: {"description": "`replaces_version` is not the current version"}},
)
async def create_category_map(
    body: CategoryMapCreate, response: Response, session: SessionDep, principal: CurrentKey
) -> dict[str, Any]:
    """The new version becomes the current one for every evaluation that does not name a version; earlier
    versions stay readable and usable (`category_map_version=`)."""
    stored = await category_maps.create(
        session,
        principal,
        replaces_version=body.replaces_version,
        effective_from=body.effective_from,
        note=body.note,
        families=body.families,
        categories=body.categories,
    )
    await session.commit()
    response.headers["Location"] = f"/v1/evaluations/category-map?version={stored.version}"
    return stored.to_row()


@router.get(
    "/audits/{audit_id}/chart.png",
    summary="Monthly incidents of target and control around the intervention date",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}} | MISSING_DATA,
)
async def evaluation_chart(
    audit_id: uuid.UUID, clock: ClockDep, session: SessionDep, principal: ReaderKey, params: ParamsDep
) -> Response:
    png = await charts.audit_chart(session, principal, audit_id, params, zone=clock.zone_name, today=clock.today())
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get(
    "/summary",
    response_model=SummaryRead,
    summary="Pooled evaluation over every audit with an implemented recommendation",
)
async def evaluation_summary(
    clock: ClockDep,
    session: SessionDep,
    principal: ReaderKey,
    window_days: WindowDaysQ = 365,
    categories: CategoriesQ = [],  # noqa: B006
    include_incomplete: IncludeIncompleteQ = False,
    family: FamilyQ = outcome_families.ALL,
    category_map_version: CategoryMapVersionQ = None,
) -> dict[str, Any]:
    return await summary.summary(
        session,
        principal,
        window_days=window_days,
        categories=split_values(categories, normalise=True),
        family=family,
        category_map_version=category_map_version,
        include_incomplete=include_incomplete,
        today=clock.today(),
    )


@router.get(
    "/summary/families",
    response_model=FamiliesRead,
    summary="Every outcome family pooled side by side, adjusted for multiplicity across families and categories",
)
async def evaluation_families(
    clock: ClockDep,
    session: SessionDep,
    principal: ReaderKey,
    window_days: WindowDaysQ = 365,
    include_incomplete: IncludeIncompleteQ = False,
    category_map_version: CategoryMapVersionQ = None,
) -> dict[str, Any]:
    return await summary.families(
        session,
        principal,
        window_days=window_days,
        include_incomplete=include_incomplete,
        category_map_version=category_map_version,
        today=clock.today(),
    )

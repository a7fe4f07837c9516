"""A partnership's report for a calendar period: what it did, against the period before, and what it achieved.

Everything comes from the metrics projections: the figures are the very sums
``GET /v1/totals`` answers (so they always agree), and the outstanding
recommendations are the latest states the audits service published, which
keeps the report working while the audits service is down and consistent with
the figures beside it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.evaluation.handlers import evaluations
from services.metrics.evaluation.handlers.evaluations import MissingData, Subject
from services.metrics.report.domain import CalendarPeriod
from services.metrics.totals.domain.totals import Totals, assemble
from services.metrics.totals.store import queries
from shared.auth.keys import Principal
from shared.contracts.events.audits import AuditState, NeighbourhoodState, PartnershipState, RecommendationState
from shared.contracts.vocabulary import Priority, RecommendationStatus
from shared.errors import NotFound

OPEN = frozenset(
    {RecommendationStatus.proposed, RecommendationStatus.accepted, RecommendationStatus.in_progress,
     RecommendationStatus.deferred}
)  # fmt: skip
_URGENCY = {Priority.high: 0, Priority.medium: 1, Priority.low: 2}


@dataclass(frozen=True)
class Outstanding:
    recommendation: RecommendationState
    audit: AuditState

    def overdue(self, today: date) -> bool:
        return self.recommendation.expected_on is not None and self.recommendation.expected_on < today


@dataclass(frozen=True)
class PartnershipReport:
    partnership: PartnershipState
    neighbourhoods: list[NeighbourhoodState]
    period: CalendarPeriod
    current: dict[str, Any]
    previous: dict[str, Any]
    evaluations: list[dict[str, Any]]
    not_evaluated: list[dict[str, Any]]
    outstanding: list[Outstanding]
    today: date
    as_of: datetime | None
    lag_events: int


async def period_totals(session: AsyncSession, partnership_id: uuid.UUID, period: CalendarPeriod) -> dict[str, Any]:
    """What ``GET /v1/totals?partnership_id=..&from=..&to=..`` answers, from the same sums."""
    sums = await queries.counter_sums(session, partnership_id=partnership_id, start=period.first, end=period.last)
    return Totals.model_validate(assemble(list(sums), partnerships=1, as_of=None, lag_events=0)).model_dump()


async def _partnership(session: AsyncSession, principal: Principal, id_: uuid.UUID) -> PartnershipState:
    principal.ensure_figures_visible(id_)
    found = await queries.live_states(session, "partnership", [id_])
    if not found:
        raise NotFound(f"partnership {id_} not found")
    return PartnershipState.model_validate(found[0])


async def _subjects(
    session: AsyncSession, partnership_id: uuid.UUID, places: dict[uuid.UUID, NeighbourhoodState]
) -> list[Subject]:
    audits = [AuditState.model_validate(a) for a in await queries.live_states(session, "audit")]
    audits = sorted((a for a in audits if a.partnership_id == partnership_id), key=lambda a: (a.conducted_on, a.id))
    recs = [RecommendationState.model_validate(r) for r in await queries.children(session, [a.id for a in audits])]
    return [Subject(a, [r for r in recs if r.audit_id == a.id], places) for a in audits]


async def _evaluate(
    session: AsyncSession, subjects: list[Subject], period: CalendarPeriod, zone: str, today: date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The default evaluation of each audit whose first implementation came by the end of the period."""
    done, skipped = [], []
    for subject in subjects:
        if not subject.implemented or subject.intervention()[0] > period.last:
            continue
        try:
            answer = await evaluations.evaluate_audit(session, subject, evaluations.Params(), zone=zone, today=today)
        except MissingData as exc:
            skipped.append({"audit": subject.audit, "reason": exc.detail})
            continue
        done.append(answer | {"audit": subject.audit})
    return done, skipped


def _outstanding(subjects: list[Subject]) -> list[Outstanding]:
    found = [Outstanding(r, s.audit) for s in subjects for r in s.recommendations if r.status in OPEN]
    return sorted(
        found,
        key=lambda o: (
            o.recommendation.expected_on or date.max,
            _URGENCY[o.recommendation.priority],
            o.audit.site_name,
        ),
    )


async def partnership_report(
    session: AsyncSession, principal: Principal, partnership_id: uuid.UUID, period: CalendarPeriod, *, zone: str,
    today: date, lag_events: int,
) -> PartnershipReport:  # fmt: skip
    partnership = await _partnership(session, principal, partnership_id)
    places = await evaluations.neighbourhoods(session)
    subjects = await _subjects(session, partnership_id, places)
    done, skipped = await _evaluate(session, subjects, period, zone, today)
    return PartnershipReport(
        partnership=partnership,
        neighbourhoods=[places[n] for n in partnership.neighbourhood_ids if n in places],
        period=period,
        current=await period_totals(session, partnership_id, period),
        previous=await period_totals(session, partnership_id, period.previous()),
        evaluations=done,
        not_evaluated=skipped,
        outstanding=_outstanding(subjects),
        today=today,
        as_of=await queries.last_applied_at(session),
        lag_events=lag_events,
    )

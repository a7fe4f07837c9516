"""An audit's evaluation as a chart: target, control and synthetic control per month, windows and the
implementation period."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.metrics.evaluation import chart
from services.metrics.evaluation.domain.windows import Period, whole_months
from services.metrics.evaluation.handlers import estimators, evaluations
from services.metrics.evaluation.store import queries
from shared.auth.keys import Principal


async def audit_chart(
    session: AsyncSession,
    principal: Principal,
    audit_id: uuid.UUID,
    params: evaluations.Params,
    *,
    zone: str,
    today: date,
) -> bytes:
    """The evaluation as a PNG: target and control incidents in every whole month of its windows, and the
    synthetic control fitted on the months before (or why there is none)."""
    subject = await evaluations.load_subject(session, audit_id, principal)
    params = await evaluations.resolve(session, params)
    answer, parts = await evaluations.evaluate_with_parts(session, subject, params, zone=zone, today=today)
    months = whole_months(Period(answer["before_window"][0], answer["after_window"][1]))
    categories = answer["categories"]
    target = await queries.monthly_counts(session, [answer["neighbourhood_id"]], months.first, months.last, categories)
    control = await queries.monthly_counts(
        session, answer["control_neighbourhood_ids"], months.first, months.last, categories
    )
    synthetic = estimators.synthetic_line(subject, parts)
    title = f"{subject.audit.site_name} (audit of {subject.audit.conducted_on})"
    return await asyncio.to_thread(chart.render, answer, target, control, title, synthetic)

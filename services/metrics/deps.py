"""The metrics service's request dependencies, declared once: the consumer's lag."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.metrics.totals.handlers import consumer_lag
from shared.web.http import ReadingSessionDep


async def _consumer_lag(request: Request, session: ReadingSessionDep) -> int:
    return await consumer_lag(session, request.app.state.redis, request.app.state.settings)


ConsumerLag = Annotated[int, Depends(_consumer_lag)]
"""The ``lag_events`` of an answer: events logged by the producers and not applied yet."""

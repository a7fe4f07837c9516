"""What each record adds to the running totals.

A record's contribution is a multiset of keys ``(partnership, neighbourhood,
metric, day)``; a change applies ``contribution(new) - contribution(old)``.
Each thing counted gets one key per partnership taking part and one key under
``ALL`` (the programme as a whole), so an event shared by two partnerships
counts once in the overall totals and once for each partnership.
Totals are therefore a pure function of the latest state of every record,
whatever order or how many times the events arrive.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from shared.events.audits import AuditState, RecommendationState
from shared.vocabulary import AuditStatus, RecommendationStatus


class Key(NamedTuple):
    partnership_id: uuid.UUID
    neighbourhood_id: uuid.UUID
    metric: str
    day: date


ALL = uuid.UUID(int=0)
"""The partnership id of the programme-wide counters."""
NOWHERE = uuid.UUID(int=0)
"""The neighbourhood id of what happened in no particular neighbourhood."""

AUDITS = "audits"
AUDITS_COMPLETED = "audits_completed"
RECOMMENDATIONS = "recommendations"
IMPLEMENTED = "recommendations_implemented"
BY_STATUS = "recommendations_by_status."
BY_CATEGORY = "recommendations_by_category."


def counted(partnerships: Iterable[uuid.UUID], neighbourhood: uuid.UUID | None, metric: str, day: date) -> list[Key]:
    """The keys of one thing counted: once per partnership taking part, and once overall."""
    n = neighbourhood or NOWHERE
    return [Key(p, n, metric, day) for p in dict.fromkeys(partnerships)] + [Key(ALL, n, metric, day)]


def audit(state: AuditState | None) -> Counter[Key]:
    if state is None:
        return Counter()
    p, n, day = [state.partnership_id], state.neighbourhood_id, state.conducted_on
    keys = counted(p, n, AUDITS, day)
    if state.status is AuditStatus.completed:
        keys += counted(p, n, AUDITS_COMPLETED, day)
    return Counter(keys)


def recommendation(state: RecommendationState | None, parent: AuditState | None) -> Counter[Key]:
    """A recommendation counts under its audit's partnership, neighbourhood and date."""
    if state is None or parent is None:
        return Counter()
    p, n, day = [parent.partnership_id], parent.neighbourhood_id, parent.conducted_on
    keys = (
        counted(p, n, RECOMMENDATIONS, day)
        + counted(p, n, BY_STATUS + state.status, day)
        + counted(p, n, BY_CATEGORY + state.category, day)
    )
    if state.status is RecommendationStatus.implemented and state.implemented_on:
        keys += counted(p, n, IMPLEMENTED, state.implemented_on)
    return Counter(keys)


def delta(old: Counter[Key], new: Counter[Key]) -> Counter[Key]:
    """``new - old`` with negative counts kept."""
    change: Counter[Key] = Counter(new)
    change.subtract(old)
    return Counter({key: count for key, count in change.items() if count})

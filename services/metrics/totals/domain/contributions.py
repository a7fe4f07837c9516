"""What each record adds to the running totals.

A record's contribution is a multiset of keys ``(partnership, neighbourhood,
metric, day)``; a change applies ``contribution(new) - contribution(old)``.
Each thing counted gets one key per partnership taking part and one key under
``ALL`` (the programme as a whole), so an event shared by two partnerships
counts once in the overall totals and once for each partnership.
Totals are therefore a pure function of the latest state of every record,
whatever order or how many times the events arrive.

These functions state the rules; PostgreSQL carries them out, a batch or a
whole log at a time (``totals/store/counting.py``), and
``tests/integration/test_counting_sql.py`` checks the two agree. A change of
rule is made in both, and that test says whether they still agree.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from shared.contracts.events.audits import AuditRequestState, AuditState, RecommendationState
from shared.contracts.events.events import DistributionState, EventState, MaterialState, StakeholderState, TrainingState
from shared.contracts.vocabulary import AuditRequestStatus, AuditStatus, EventStatus, RecommendationStatus


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
AUDIT_REQUESTS = "audit_requests"
AUDIT_REQUESTS_OPEN = "audit_requests_open"
EVENTS, SPECIAL_EVENTS, OFFICERS_ATTENDING = "events", "special_events", "officers_attending"
MATERIALS, TRANSLATIONS, COPIES_DISTRIBUTED = "materials", "translations", "copies_distributed"
TRAININGS, TRAINEES = "trainings", "trainees"
STAKEHOLDERS, NEW_CONNECTIONS = "stakeholders", "new_connections"


def local_day(moment: datetime, zone: str) -> date:
    """The day ``moment`` falls on in ``zone``: what a thing that happened at a moment counts on."""
    return moment.astimezone(ZoneInfo(zone)).date()


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


def audit_request(state: AuditRequestState | None, zone: str) -> Counter[Key]:
    """An audit request counts on the local day it was received; open until done or rejected.

    It counts under a partnership once it is scheduled for one of its audits.
    """
    if state is None:
        return Counter()
    p = [state.partnership_id] if state.partnership_id else []
    n, day = state.neighbourhood_id, local_day(state.received_at, zone)
    keys = counted(p, n, AUDIT_REQUESTS, day)
    if state.status in (AuditRequestStatus.received, AuditRequestStatus.scheduled):
        keys += counted(p, n, AUDIT_REQUESTS_OPEN, day)
    return Counter(keys)


def _times(keys: list[Key], weight: int) -> Counter[Key]:
    """Keys counting ``weight`` each (officers at an event, copies handed out)."""
    return Counter(dict.fromkeys(keys, weight)) if weight else Counter()


def event(state: EventState | None, zone: str) -> Counter[Key]:
    """A community event counts on the local day it starts, unless cancelled (or deleted: ``None``)."""
    if state is None or state.status is EventStatus.cancelled:
        return Counter()
    p, n, day = state.partnership_ids, state.neighbourhood_id, local_day(state.starts_at, zone)
    keys = Counter(counted(p, n, EVENTS, day))
    if state.special:
        keys.update(counted(p, n, SPECIAL_EVENTS, day))
    keys.update(_times(counted(p, n, OFFICERS_ATTENDING, day), state.officers_attending))
    return keys


def material(state: MaterialState | None) -> Counter[Key]:
    """Programme-wide: the material on its publication day, each language besides the source on its own day."""
    if state is None:
        return Counter()
    keys = Counter(counted([], None, MATERIALS, state.published_on))
    for lang, text in state.translations.items():
        if lang != state.source_language:
            keys.update(counted([], None, TRANSLATIONS, text.translated_on))
    return keys


def distribution(state: DistributionState | None) -> Counter[Key]:
    if state is None:
        return Counter()
    return _times(counted([], None, COPIES_DISTRIBUTED, state.distributed_on), state.copies)


def training(state: TrainingState | None) -> Counter[Key]:
    if state is None:
        return Counter()
    keys = Counter(counted([], None, TRAININGS, state.held_on))
    keys.update(_times(counted([], None, TRAINEES, state.held_on), state.attendees))
    return keys


def stakeholder(state: StakeholderState | None) -> Counter[Key]:
    """A connection counts from the day it was made, whatever its status since: a connection made stays made."""
    if state is None:
        return Counter()
    p, n, day = [state.partnership_id], state.neighbourhood_id, state.connected_on
    return Counter(counted(p, n, STAKEHOLDERS, day) + counted(p, n, NEW_CONNECTIONS, day))


def delta(old: Counter[Key], new: Counter[Key]) -> Counter[Key]:
    """``new - old`` with negative counts kept: what a change of state adds to the counters."""
    change: Counter[Key] = Counter(new)
    change.subtract(old)
    return Counter({key: count for key, count in change.items() if count})

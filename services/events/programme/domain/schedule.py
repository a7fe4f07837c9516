"""Rules of community events: times, status changes, the local day they count on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.contracts.vocabulary import EventStatus as S

LONGEST_EVENT = timedelta(days=31)

# A held event can be corrected back to scheduled; a cancelled one reinstated.
_ALLOWED: dict[S, frozenset[S]] = {
    S.scheduled: frozenset({S.held, S.cancelled}),
    S.held: frozenset({S.scheduled}),
    S.cancelled: frozenset({S.scheduled}),
}


class RuleBroken(ValueError):
    def __init__(self, message: str, field: str, conflict: bool = False) -> None:
        super().__init__(message)
        self.field = field
        self.conflict = conflict


def to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is None:
        return
    if ends_at <= starts_at:
        raise RuleBroken(f"ends_at {ends_at.isoformat()} is not after starts_at {starts_at.isoformat()}", "ends_at")
    if ends_at - starts_at > LONGEST_EVENT:
        raise RuleBroken("an event lasts at most 31 days; record a longer programme as several events", "ends_at")


def check_status(current: S | None, new: S, starts_at: datetime, now: datetime) -> None:
    """``current`` is None for a new event (imports may record any status)."""
    if current is not None and new is not current and new not in _ALLOWED[current]:
        raise RuleBroken(f"cannot go from {current} to {new}", "status", conflict=True)
    if new is S.held and starts_at > now:
        raise RuleBroken("an event that has not started yet cannot have been held", "status")


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def local_bounds(start: date | None, end: date | None, zone: str) -> tuple[datetime | None, datetime | None]:
    """The UTC instants bounding local days ``start``..``end`` inclusive (DST-aware)."""
    tz = ZoneInfo(zone)
    lower = datetime.combine(start, datetime.min.time(), tz).astimezone(UTC) if start else None
    upper = datetime.combine(end + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC) if end else None
    return lower, upper

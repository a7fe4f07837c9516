"""The intervention date and the before/after windows, in local calendar days (America/Toronto).

Incidents on the intervention date belong to neither window. The before
window is the ``days`` calendar days ending the day before it, the after
window the ``days`` days starting the day after it, both inclusive. Local
days are 23 or 25 hours long across a daylight-saving change; that is why
windows are counted in days, never in hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 30, 1825


def intervention_date(conducted_on: date, implemented_on: Iterable[date | None]) -> date:
    """The first day a recommendation of the audit was implemented, else the day of the audit."""
    days = [d for d in implemented_on if d is not None]
    return min(days) if days else conducted_on


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def as_list(self) -> list[date]:
        return [self.first, self.last]


@dataclass(frozen=True)
class Windows:
    intervention: date
    before: Period
    after: Period
    today: date

    @property
    def complete(self) -> bool:
        """The after window is over only once its last local day has ended."""
        return self.after.last < self.today

    @property
    def after_days_observed(self) -> int:
        """Whole local days of the after window that are over."""
        return max(0, min(self.after.days, (self.today - self.after.first).days))


def windows(intervention: date, days: int, today: date) -> Windows:
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS}")
    before = Period(intervention - timedelta(days=days), intervention - timedelta(days=1))
    after = Period(intervention + timedelta(days=1), intervention + timedelta(days=days))
    return Windows(intervention, before, after, today)


def previous(period: Period) -> Period:
    """The period of equal length that ends the day before ``period`` starts."""
    return Period(period.first - timedelta(days=period.days), period.first - timedelta(days=1))


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def local_today(zone: str, now: datetime | None = None) -> date:
    return local_day(now or datetime.now(UTC), zone)


def utc_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC covering the local days ``first``..``last``, whatever their length."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end

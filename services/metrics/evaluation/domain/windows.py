"""The implementation period and the before/after windows, in local calendar days (America/Toronto).

The implementation period runs from the first to the last day a
recommendation of the audit was implemented (Welsh & Farrington leave it out
of both windows): incidents inside it belong to neither window. The before
window is the ``days`` calendar days ending the day before it starts, the
after window the ``days`` days starting the day after it ends, both
inclusive. With one implemented recommendation the period is a single day,
the intervention date. Local
days are 23 or 25 hours long across a daylight-saving change; that is why
windows are counted in days, never in hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 30, 1825


def intervention_date(conducted_on: date, implemented_on: Iterable[date | None]) -> date:
    """The first day a recommendation of the audit was implemented, else the day of the audit."""
    days = [d for d in implemented_on if d is not None]
    return min(days) if days else conducted_on


def implementation_period(conducted_on: date, implemented_on: Iterable[date | None]) -> tuple[date, date]:
    """From the first to the last day a recommendation was implemented, else the day of the audit."""
    days = [d for d in implemented_on if d is not None]
    return (min(days), max(days)) if days else (conducted_on, conducted_on)


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
    implementation: Period | None = None
    """Left out of both windows; None is the single intervention day."""

    @property
    def implementation_period(self) -> Period:
        return self.implementation or Period(self.intervention, self.intervention)

    @property
    def complete(self) -> bool:
        """The after window is over only once its last local day has ended."""
        return self.after.last < self.today

    @property
    def after_days_observed(self) -> int:
        """Whole local days of the after window that are over."""
        return max(0, min(self.after.days, (self.today - self.after.first).days))


def windows(intervention: date, days: int, today: date, *, implemented_until: date | None = None) -> Windows:
    """Windows around the implementation period ``intervention``..``implemented_until`` (default: one day)."""
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS}")
    last = implemented_until or intervention
    if last < intervention:
        raise ValueError("the implementation period ends before it starts")
    before = Period(intervention - timedelta(days=days), intervention - timedelta(days=1))
    after = Period(last + timedelta(days=1), last + timedelta(days=days))
    return Windows(intervention, before, after, today, Period(intervention, last))


def previous(period: Period) -> Period:
    """The period of equal length that ends the day before ``period`` starts."""
    return Period(period.first - timedelta(days=period.days), period.first - timedelta(days=1))


HISTORY_MONTHS = 36


def history(window: Windows, months: int = HISTORY_MONTHS) -> Period:
    """The whole calendar months before the implementation period starts, at most ``months`` of them."""
    start_of_month = window.intervention.replace(day=1)
    last = start_of_month - timedelta(days=1)
    year, month = divmod(start_of_month.year * 12 + start_of_month.month - 1 - months, 12)
    return Period(date(year, month + 1, 1), last)


def month_starts(period: Period) -> list[date]:
    """The first day of each calendar month ``period`` touches."""
    starts, day = [], period.first.replace(day=1)
    while day <= period.last:
        starts.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return starts


def whole_months(period: Period) -> Period:
    """The whole calendar months around ``period``, so that no month on a chart is cut short."""
    following = (period.last.replace(day=1) + timedelta(days=32)).replace(day=1)
    return Period(period.first.replace(day=1), following - timedelta(days=1))

"""Intervention dates and windows in local calendar days: month and year ends, leap days, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.metrics.crime.domain.incidents import utc_bounds
from services.metrics.evaluation.domain.windows import (
    Period,
    history,
    implementation_period,
    intervention_date,
    month_starts,
    previous,
    windows,
)
from services.metrics.totals.domain.contributions import local_day

TORONTO = "America/Toronto"


def test_the_first_implementation_else_the_audit() -> None:
    assert intervention_date(date(2025, 1, 15), [None, date(2025, 4, 2), date(2025, 3, 1)]) == date(2025, 3, 1)
    assert intervention_date(date(2025, 1, 15), [None]) == date(2025, 1, 15)


def test_the_implementation_period_is_left_out_of_both_windows() -> None:
    # Recommendations implemented on 1 March and 20 April: before ends 28 February, after starts 21 April.
    first, last = implementation_period(date(2025, 1, 15), [date(2025, 4, 20), None, date(2025, 3, 1)])
    assert (first, last) == (date(2025, 3, 1), date(2025, 4, 20))
    w = windows(first, 30, today=date(2026, 1, 1), implemented_until=last)
    assert w.before.as_list() == [date(2025, 1, 30), date(2025, 2, 28)]
    assert w.after.as_list() == [date(2025, 4, 21), date(2025, 5, 20)]
    assert w.implementation_period.as_list() == [date(2025, 3, 1), date(2025, 4, 20)]
    # One implemented recommendation: the single day, as before.
    assert windows(first, 30, today=date(2026, 1, 1)).after.first == date(2025, 3, 2)
    assert implementation_period(date(2025, 1, 15), [None]) == (date(2025, 1, 15), date(2025, 1, 15))
    with pytest.raises(ValueError, match="ends before it starts"):
        windows(last, 30, today=date(2026, 1, 1), implemented_until=first)


def test_the_dispersion_history_is_whole_months_before_the_implementation() -> None:
    past = history(windows(date(2025, 3, 15), 365, today=date(2026, 1, 1)))
    assert past.as_list() == [date(2022, 3, 1), date(2025, 2, 28)]
    starts = month_starts(past)
    assert len(starts) == 36 and starts[0] == date(2022, 3, 1) and starts[-1] == date(2025, 2, 1)


def test_the_contract_example() -> None:
    w = windows(date(2026, 3, 1), 365, today=date(2026, 11, 25))
    assert (w.before.first, w.before.last) == (date(2025, 3, 1), date(2026, 2, 28))
    assert (w.after.first, w.after.last) == (date(2026, 3, 2), date(2027, 3, 1))
    assert w.before.days == w.after.days == 365
    assert not w.complete and w.after_days_observed == (date(2026, 11, 25) - date(2026, 3, 2)).days


@pytest.mark.parametrize(
    ("intervention", "days", "before", "after"),
    [
        # year end: 31 days before 1 January are all of December
        (date(2025, 1, 1), 31, (date(2024, 12, 1), date(2024, 12, 31)), (date(2025, 1, 2), date(2025, 2, 1))),
        # month end of a leap February
        (date(2024, 2, 29), 30, (date(2024, 1, 30), date(2024, 2, 28)), (date(2024, 3, 1), date(2024, 3, 30))),
        # the after window runs over a year end
        (date(2024, 12, 31), 30, (date(2024, 12, 1), date(2024, 12, 30)), (date(2025, 1, 1), date(2025, 1, 30))),
        # 1825 days reach over a leap day on both sides
        (date(2024, 3, 1), 1825, (date(2019, 3, 3), date(2024, 2, 29)), (date(2024, 3, 2), date(2029, 2, 28))),
    ],
)
def test_window_dates(intervention: date, days: int, before: tuple[date, date], after: tuple[date, date]) -> None:
    w = windows(intervention, days, today=date(2100, 1, 1))
    assert (w.before.first, w.before.last) == before and (w.after.first, w.after.last) == after
    assert w.before.days == w.after.days == days and w.complete


def test_complete_only_once_the_last_day_is_over() -> None:
    w = windows(date(2025, 1, 1), 30, today=date(2025, 1, 31))
    assert w.after.last == date(2025, 1, 31) and not w.complete and w.after_days_observed == 29
    assert windows(date(2025, 1, 1), 30, today=date(2025, 2, 1)).complete
    assert windows(date(2025, 1, 1), 30, today=date(2024, 12, 1)).after_days_observed == 0


@pytest.mark.parametrize("days", [29, 1826])
def test_window_length_limits(days: int) -> None:
    with pytest.raises(ValueError):
        windows(date(2025, 1, 1), days, today=date(2025, 1, 1))


def test_local_days_across_daylight_saving() -> None:
    # Spring forward on 9 March 2025: the local day has 23 hours; fall back on 2 November: 25 hours.
    start, end = utc_bounds(date(2025, 3, 9), date(2025, 3, 9), TORONTO)
    assert (start, end - start) == (datetime(2025, 3, 9, 5, tzinfo=UTC), timedelta(hours=23))
    start, end = utc_bounds(date(2025, 11, 2), date(2025, 11, 2), TORONTO)
    assert (start, end - start) == (datetime(2025, 11, 2, 4, tzinfo=UTC), timedelta(hours=25))
    # A March window: from midnight EST on the 1st to midnight EDT after the 31st, one hour short of 31 days.
    start, end = utc_bounds(date(2025, 3, 1), date(2025, 3, 31), TORONTO)
    assert (start, end) == (datetime(2025, 3, 1, 5, tzinfo=UTC), datetime(2025, 4, 1, 4, tzinfo=UTC))
    assert local_day(datetime(2025, 3, 9, 4, 30, tzinfo=UTC), TORONTO) == date(2025, 3, 8)
    assert local_day(datetime(2025, 11, 3, 4, 30, tzinfo=UTC), TORONTO) == date(2025, 11, 2)


def test_the_previous_period_has_the_same_length() -> None:
    assert previous(Period(date(2025, 3, 1), date(2025, 3, 31))) == Period(date(2025, 1, 29), date(2025, 2, 28))

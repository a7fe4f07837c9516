"""The calendar periods a partnership reports on: a year (``2026``) or a quarter (``2026-Q2``), in local days.

The comparison is with the calendar period before (2025, or 2026-Q1), not
with the same number of days before, so leap years and quarters of 90 to 92
days compare as people expect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-Q(?P<quarter>[1-4]))?$")
FIRST_YEAR, LAST_YEAR = 1990, 2100


@dataclass(frozen=True)
class CalendarPeriod:
    year: int
    quarter: int | None = None

    @property
    def label(self) -> str:
        return f"{self.year}-Q{self.quarter}" if self.quarter else str(self.year)

    @property
    def first(self) -> date:
        return date(self.year, 3 * (self.quarter - 1) + 1 if self.quarter else 1, 1)

    @property
    def last(self) -> date:
        if not self.quarter or self.quarter == 4:
            return date(self.year, 12, 31)
        return date(self.year, 3 * self.quarter + 1, 1) - timedelta(days=1)

    def previous(self) -> CalendarPeriod:
        if self.quarter is None:
            return CalendarPeriod(self.year - 1)
        if self.quarter == 1:
            return CalendarPeriod(self.year - 1, 4)
        return CalendarPeriod(self.year, self.quarter - 1)


def parse_period(text: str) -> CalendarPeriod:
    """``2026`` or ``2026-Q1``..``2026-Q4``; ValueError with the reason otherwise."""
    found = _PERIOD.match(text.strip().upper())
    if not found:
        raise ValueError(f"{text!r} is not a period: give a year (2026) or a quarter (2026-Q2)")
    year = int(found["year"])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return CalendarPeriod(year, int(found["quarter"]) if found["quarter"] else None)

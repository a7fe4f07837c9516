"""What time it is: now in UTC, and today in the programme's local time zone; waiting a while.

Built once at each entry point (app factory, CLI, Celery tasks, workers) from the
settings and handed to what needs it; a test passes a clock fixed at a moment.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utc_now() -> datetime:
    return datetime.now(UTC)


class Clock:
    def __init__(self, zone: str, now: Callable[[], datetime] = utc_now) -> None:
        self.zone_name = zone
        self.zone = ZoneInfo(zone)
        self._now = now

    def now(self) -> datetime:
        return self._now()

    def today(self) -> date:
        """Today's date in the local zone: what a coordinator calls "today"."""
        return self.local_date(self._now())

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


async def wait_for_any(seconds: float, *events: asyncio.Event) -> None:
    """Until one of ``events`` is set, or ``seconds`` have passed: a loop's pause that a stop or a wake-up
    cuts short."""
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

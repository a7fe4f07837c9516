"""Telling the totals' readers that the projections moved, so that a reader can wait for a change instead of
polling (``GET /v1/totals`` with ``Prefer: wait``): the consumer wakes them after each batch it applied and
committed, and each metrics API process counts the wakes (``shared.bus.wake``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from fastapi import FastAPI

from shared.bus.wake import Wakes, wake_channel
from shared.settings import Settings

RECHECK_S = 1.0
"""A reader waiting for a change reads again at least this often: a change that sent no wake (a repair by the log
watch, a wake lost with Redis) reaches it within this."""
T = TypeVar("T")
KEPT = 1024
"""Queries whose last tag is kept."""


def channel(settings: Settings) -> str:
    return wake_channel(f"{settings.stream_prefix}:totals")


@dataclass(frozen=True)
class _Read:
    wakes: int
    """The count of wakes before the read."""
    at: float
    tag: str


class TotalsWatch:
    """The totals' wakes, and per query the tag of its last read while no wake has come since: a reader coming
    back with that tag is waited for at once, without reading the same totals again."""

    def __init__(self, wakes: Wakes) -> None:
        self.wakes = wakes
        self._last: dict[Hashable, _Read] = {}
        self._reading: dict[tuple[Hashable, int], asyncio.Future[Any]] = {}

    def current(self, query: Hashable, now: float) -> str | None:
        """The tag of ``query``'s totals, when it is known without reading them."""
        read = self._last.get(query)
        fresh = read is not None and read.wakes == self.wakes.count and now - read.at < RECHECK_S
        return read.tag if fresh and read is not None else None

    async def read(self, query: Hashable, wakes: int, read: Callable[[], Awaitable[T]]) -> T:
        """``query``'s totals read after the wake numbered ``wakes``: one ``read`` for every reader asking for that
        same one at once; it goes on for the others if one of them goes away."""
        key = (query, wakes)
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(read())
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        return cast(T, await asyncio.shield(reading))

    async def wait(self, wakes: int, remaining_s: float) -> None:
        """Until a wake after the one numbered ``wakes``, for ``remaining_s`` at most, and ``RECHECK_S``."""
        await self.wakes.after(wakes, min(remaining_s, RECHECK_S))

    def remember(self, query: Hashable, wakes: int, now: float, tag: str) -> None:
        """``query`` read at ``now`` gave ``tag``, with ``wakes`` counted before the read."""
        if len(self._last) >= KEPT:
            self._last.clear()
        self._last[query] = _Read(wakes, now, tag)


async def listen(app: FastAPI) -> None:
    app.state.totals_changes = TotalsWatch(Wakes(app.state.redis, channel(app.state.settings)))
    app.state.totals_changes.wakes.start()


async def stop_listening(app: FastAPI) -> None:
    await app.state.totals_changes.wakes.stop()

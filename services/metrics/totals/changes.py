"""Telling the totals' readers that the projections moved, so that a reader can wait for a change instead of
polling (``GET /v1/totals`` with ``Prefer: wait``): the consumer wakes them after each batch it applied and
committed, and each metrics API process counts the wakes (``shared.bus.wake``)."""

from __future__ import annotations

from fastapi import FastAPI

from shared.bus.wake import Wakes, wake_channel
from shared.settings import Settings


def channel(settings: Settings) -> str:
    return wake_channel(f"{settings.stream_prefix}:totals")


async def listen(app: FastAPI) -> None:
    app.state.totals_changes = Wakes(app.state.redis, channel(app.state.settings))
    app.state.totals_changes.start()


async def stop_listening(app: FastAPI) -> None:
    await app.state.totals_changes.stop()

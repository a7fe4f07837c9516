"""The command line's entries into the projections: ``cpted rebuild-metrics`` and ``cpted reconcile``.

The command line hands over an engine and a client per producer's log; these
read the settings once, as every entry point does, and pass the local time
zone down to the replay.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.projection import replay
from shared.settings import get_settings


async def rebuild(engine: AsyncEngine, logs: replay.Logs, **options: Any) -> int:
    """``replay.rebuild`` (``page_size``, ``progress``) in the configured local time zone."""
    return await replay.rebuild(engine, logs, zone=get_settings().local_timezone, **options)


async def reconcile(engine: AsyncEngine, logs: replay.Logs, **options: Any) -> replay.Reconciliation:
    """``replay.reconcile`` (``page_size``, ``progress``) in the configured local time zone."""
    return await replay.reconcile(engine, logs, zone=get_settings().local_timezone, **options)

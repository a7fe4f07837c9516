"""``cpted retention``: every service's retention run, in this process, on the platform's database and Redis
(the nightly Celery task runs the same kinds, reaching the producers through their ``POST /v1/retention``)."""

from __future__ import annotations

from services.audits import retention as audits
from services.events import retention as events
from services.metrics import retention as metrics
from shared.bus.client import redis_client
from shared.db.engine import dispose_engines, get_engine
from shared.retention import report_line, runner
from shared.settings import Settings


async def apply_retention(settings: Settings, *, dry_run: bool) -> metrics.Report:
    engine, redis, clock = get_engine(settings), redis_client(settings), settings.clock()
    producers = {
        "audits": runner(engine, "audits", audits.kinds(engine, settings, clock), clock),
        "events": runner(engine, "events", events.kinds(engine, settings, clock), clock),
    }
    try:
        report = await metrics.apply_everywhere(engine, redis, settings, clock, producers, dry_run=dry_run)
    finally:
        await redis.aclose()
        await dispose_engines()
    report_line(report, dry_run=dry_run)
    return report

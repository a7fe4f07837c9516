"""The metrics service's Celery app: the nightly CSWB feeds, built and delivered, the webhooks' deliveries,
and the nightly retention run (``retention.py``).

Run with ``celery -A services.metrics.tasks:celery_app worker`` and, in
exactly one process, ``... beat``. The broker is ``CPTED_CELERY_BROKER_URL``,
or else the platform's Redis (``make run``), whose keys carry the stream
prefix so platforms (and test runs) sharing a Redis never share a queue. An
``amqp://`` URL selects RabbitMQ, the production broker: a quorum queue,
publisher confirms, retries delayed in the broker (``RABBITMQ_OPTIONS``); a
platform is isolated there by its virtual host. On either broker tasks are
acknowledged late and rejected back to the queue when the worker process
dies, so a killed worker's task runs again; every task is idempotent against
the database (see ``cswb/handlers/feeds.py``, ``cswb/handlers/delivery.py``
and ``webhooks/handlers.py``), never against the scheduler: a beat can fire twice.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import Any, TypeVar

import httpx
from celery import Celery
from celery.schedules import crontab
from redis.exceptions import RedisError
from sqlalchemy import exc, pool
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.metrics import health, retention
from services.metrics.attempts import Outcome
from services.metrics.cswb.handlers import delivery, feeds
from services.metrics.cswb.settings import CswbSettings, get_cswb_settings
from services.metrics.cswb.store import feeds as store
from services.metrics.totals.handlers import consumer_lag
from services.metrics.webhooks import handlers as webhooks
from services.metrics.webhooks.settings import WebhookSettings, get_webhook_settings
from shared import tracing
from shared.bus.client import is_cluster_url, redis_client
from shared.db.engine import async_url
from shared.retention import report_line
from shared.settings import NotConfigured, Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
TRANSIENT = (OSError, exc.OperationalError, exc.InterfaceError)
"""The database or the broker is away for a moment: the build is tried again with backoff."""


def broker_url(redis_url: str) -> str:
    """Celery's form of a Redis URL: a unix socket (the embedded Redis of ``make run``) is ``redis+socket://``.

    Celery cannot use a Redis Cluster as its broker: with one, ``CPTED_CELERY_BROKER_URL`` names the broker."""
    if is_cluster_url(redis_url):
        raise NotConfigured("CPTED_REDIS_URL names a Redis Cluster: set CPTED_CELERY_BROKER_URL to Celery's broker")
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


def schedule(cswb: CswbSettings) -> crontab | float:
    if cswb.cswb_every_s > 0:
        return cswb.cswb_every_s
    return crontab_of(cswb.cswb_schedule)


def crontab_of(text: str) -> crontab:
    """A crontab in local time: minute hour day-of-month month day-of-week."""
    minute, hour, day_of_month, month_of_year, day_of_week = text.split()
    return crontab(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
    )


def on_rabbitmq(url: str) -> bool:
    """An ``amqp://`` (or ``amqps://``) broker is RabbitMQ; anything else is Redis."""
    return url.partition("://")[0] in ("amqp", "amqps", "pyamqp")


def _redis_options(settings: Settings, cswb: CswbSettings) -> dict[str, Any]:
    visibility = cswb.celery_visibility_timeout_s
    return {
        "broker_transport_options": {
            "global_keyprefix": f"{settings.stream_prefix}:celery:",
            "visibility_timeout": visibility,
            # Look for the tasks of dead workers a few times per visibility timeout.
            "unacked_restore_interval": max(1, min(10, visibility // 4)),
            "unacked_restore_throttle": 1,
        },
    }


RABBITMQ_OPTIONS: dict[str, Any] = {
    # Quorum queues are replicated over the RabbitMQ cluster and survive a node; a task a worker held
    # unacknowledged goes back to the queue the moment that worker's connection drops.
    "task_default_queue_type": "quorum",
    # Quorum queues have no global QoS: the worker then sets a per-consumer prefetch (Celery's default, said here).
    "worker_detect_quorum_queues": True,
    # Retries wait in the broker (native delayed delivery, quorum queues too), which routes through topic exchanges.
    "task_default_exchange_type": "topic",
    "broker_native_delayed_delivery_queue_type": "quorum",
    # Every publish waits for the broker's confirmation: a task is never lost between the caller and the queue.
    "broker_transport_options": {"confirm_publish": True},
}
"""Celery on RabbitMQ, the production broker (``CPTED_CELERY_BROKER_URL=amqp://...``); no result backend either way."""


def config(settings: Settings, cswb: CswbSettings, webhooks: WebhookSettings | None = None) -> dict[str, Any]:
    """Celery's configuration; ``webhooks`` None: the webhook settings as the environment gives them."""
    sweep_every_s = (webhooks or WebhookSettings()).webhook_sweep_every_s
    broker = broker_url(cswb.celery_broker_url or settings.resolved_redis_url())
    password = cswb.celery_broker_password
    return {
        "broker_url": broker,
        **({"broker_password": password.get_secret_value()} if password else {}),
        **(copy.deepcopy(RABBITMQ_OPTIONS) if on_rabbitmq(broker) else _redis_options(settings, cswb)),
        "broker_connection_retry_on_startup": True,
        "task_default_queue": "metrics",
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "task_time_limit": cswb.celery_task_time_limit_s,
        # One task reserved per pool process: a feed or a delivery waits for a free worker, not behind a busy one.
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": cswb.celery_concurrency,
        "worker_hijack_root_logger": False,
        "timezone": settings.local_timezone,
        "enable_utc": True,
        "beat_schedule": {
            "cswb-nightly-feeds": {"task": "metrics.build_nightly_feeds", "schedule": schedule(cswb)},
            "webhooks-sweep": {"task": "metrics.sweep_webhooks", "schedule": sweep_every_s},
            "retention-nightly": {
                "task": "metrics.apply_retention",
                "schedule": crontab_of(settings.retention_schedule),
            },
        },
        "beat_schedule_filename": str(settings.var_dir / "celerybeat-schedule"),
    }


def later(seconds: float) -> int:
    """A retry's countdown in whole seconds, never sooner than asked: RabbitMQ's delayed delivery counts
    whole seconds and refuses a countdown below one."""
    return max(1, math.ceil(seconds))


celery_app = Celery("metrics")
celery_app.add_defaults(lambda: config(get_settings(), get_cswb_settings(), get_webhook_settings()))
health.install(celery_app, get_settings)  # liveness and readiness of the worker and beat on CPTED_HEALTH_PORT
tracing.connect_celery(get_settings)


def _run(work: Callable[[AsyncEngine], Awaitable[T]], settings: Settings) -> T:
    """One event loop and one unpooled engine per task: a worker process runs many loops, one at a time."""

    async def main() -> T:
        engine = create_async_engine(async_url(settings.resolved_database_url()), poolclass=pool.NullPool)
        tracing.instrument_engine(engine)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def enqueue(tickets: Iterable[store.Ticket]) -> int:
    sent = 0
    for ticket in tickets:
        deliver_feed.apply_async(args=(ticket.feed_date.isoformat(), ticket.destination, ticket.token))
        sent += 1
    return sent


async def _consumer_lag(engine: AsyncEngine, settings: Settings) -> int:
    redis = redis_client(settings)
    try:
        async with engine.connect() as conn:
            return await consumer_lag(conn, redis, settings)
    except (RedisError, exc.SQLAlchemyError, OSError) as error:
        # the lag is a courtesy: without it, build from what the projections hold
        log.warning("cannot read the metrics consumer's lag: %s", error)
        return 0
    finally:
        await redis.aclose()


@celery_app.task(
    name="metrics.build_nightly_feeds", bind=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5
)
def build_nightly_feeds(self: Any) -> list[str]:
    """Yesterday's feed (and missed days within the catch-up window), then every delivery due.

    A feed built while the metrics consumer is behind would miss the day's last events, so the run waits
    for it (up to ``cswb_consumer_wait_s``) and builds anyway after that.
    """
    settings, cswb = get_settings(), get_cswb_settings()
    step = min(60.0, cswb.celery_visibility_timeout_s / 2)
    behind = _run(lambda engine: _consumer_lag(engine, settings), settings)
    if behind and self.request.retries * step < cswb.cswb_consumer_wait_s:
        log.info("the metrics consumer is %d events behind; building the CSWB feeds in %.0fs", behind, step)
        raise self.retry(countdown=later(step), max_retries=None)
    zone, today = settings.local_timezone, settings.clock().today()
    built, tickets = _run(lambda engine: feeds.build_nightly(engine, cswb, zone, today), settings)
    enqueue(tickets)
    return [f"{b.feed_date}:{b.outcome}" for b in built]


@celery_app.task(name="metrics.build_feed", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def build_feed(feed_date: str) -> str:
    settings, cswb = get_settings(), get_cswb_settings()
    day = date.fromisoformat(feed_date)

    async def work(engine: AsyncEngine) -> tuple[feeds.Built, list[store.Ticket]]:
        return await feeds.build_feed(engine, day, cswb, settings.local_timezone), await feeds.due(engine, cswb, day)

    built, tickets = _run(work, settings)
    enqueue(tickets)
    return built.outcome


@celery_app.task(name="metrics.deliver_feed", bind=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def deliver_feed(self: Any, feed_date: str, destination: str, token: int) -> str:
    settings, cswb = get_settings(), get_cswb_settings()
    ticket = store.Ticket(date.fromisoformat(feed_date), destination, token)

    async def work(engine: AsyncEngine) -> Outcome:
        async with delivery.new_client(cswb) as client:
            return await delivery.deliver(engine, cswb, ticket, client)

    outcome = _run(work, settings)
    if outcome.state == "failed":
        log.warning("CSWB feed %s to %s failed for good: %s", feed_date, destination, outcome.error)
    if outcome.retry_in_s is not None:
        raise self.retry(
            args=(feed_date, destination, token + 1), countdown=later(outcome.retry_in_s), max_retries=None
        )
    return outcome.state


def enqueue_webhooks(tickets: Iterable[webhooks.Ticket]) -> int:
    sent = 0
    for ticket in tickets:
        deliver_webhook.apply_async(args=(str(ticket.delivery_id), ticket.token))
        sent += 1
    return sent


@celery_app.task(name="metrics.deliver_webhook", bind=True, autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def deliver_webhook(self: Any, delivery_id: str, token: int) -> str:
    settings, webhook = get_settings(), get_webhook_settings()
    ticket = webhooks.Ticket(uuid.UUID(delivery_id), token)

    async def work(engine: AsyncEngine) -> Outcome:
        async with webhooks.new_client(webhook) as client:
            return await webhooks.deliver(engine, webhook, ticket, client)

    outcome = _run(work, settings)
    if outcome.state in ("failed", "disabled"):
        log.warning("webhook delivery %s %s: %s", delivery_id, outcome.state, outcome.error)
    if outcome.retry_in_s is not None:
        raise self.retry(args=(delivery_id, token + 1), countdown=later(outcome.retry_in_s), max_retries=None)
    return outcome.state


@celery_app.task(name="metrics.sweep_webhooks", autoretry_for=TRANSIENT, retry_backoff=True, max_retries=5)
def sweep_webhooks() -> int:
    """Hand to the workers the deliveries that are due and were never handed over (the broker was away)."""
    settings, webhook = get_settings(), get_webhook_settings()
    return enqueue_webhooks(_run(lambda engine: webhooks.due(engine, webhook), settings))


@celery_app.task(
    name="metrics.apply_retention", autoretry_for=(*TRANSIENT, httpx.HTTPError), retry_backoff=True, max_retries=5
)
def apply_retention(dry_run: bool = False) -> retention.Report:
    """Remove what is past its retention period, in every service (one run at a time per service); what
    was removed, by service and kind, is the result and a log line (docs/retention.md)."""
    settings = get_settings()

    async def work(engine: AsyncEngine) -> retention.Report:
        redis = redis_client(settings)
        try:
            async with retention.producers_over_http(settings) as producers:
                clock = settings.clock()
                return await retention.apply_everywhere(engine, redis, settings, clock, producers, dry_run=dry_run)
        finally:
            await redis.aclose()

    report = _run(work, settings)
    report_line(report, dry_run=dry_run)
    return report

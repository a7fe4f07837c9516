"""Redis connections for the event bus."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.settings import Settings


def redis_client(settings: Settings, **kwargs: object) -> Redis:
    return Redis.from_url(
        settings.resolved_redis_url(),
        health_check_interval=30,
        socket_connect_timeout=5,
        **kwargs,  # type: ignore[arg-type]
    )

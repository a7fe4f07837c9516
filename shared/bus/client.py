"""Redis connections for the event bus."""

from __future__ import annotations

from redis.asyncio import Redis

from shared.settings import Settings, get_settings


def redis_client(settings: Settings | None = None, **kwargs: object) -> Redis:
    settings = settings or get_settings()
    return Redis.from_url(
        settings.resolved_redis_url(),
        health_check_interval=30,
        socket_connect_timeout=5,
        **kwargs,  # type: ignore[arg-type]
    )

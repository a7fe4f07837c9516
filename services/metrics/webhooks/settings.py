"""Settings of webhook deliveries, read from ``CPTED_*`` variables like every other setting."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPTED_", extra="ignore")

    webhook_timeout_s: float = 10.0
    # Attempts of one delivery before it is given up (failed; it can still be redelivered by hand).
    webhook_max_attempts: int = 8
    webhook_backoff_base_s: float = 30.0
    # Below CPTED_CELERY_VISIBILITY_TIMEOUT_S, or a waiting retry is handed to a second worker.
    webhook_backoff_max_s: float = 3600.0
    # Failed attempts in a row, over all of a subscription's deliveries, that disable it until PATCHed.
    webhook_disable_after: int = 15
    # The beat sends again the deliveries that are due but were never handed to a worker (broker away).
    webhook_sweep_every_s: float = 60.0


@lru_cache
def get_webhook_settings() -> WebhookSettings:
    return WebhookSettings()

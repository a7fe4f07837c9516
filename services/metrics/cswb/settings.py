"""Settings of the nightly CSWB feeds and the Celery processes that build and deliver them.

Read from ``CPTED_*`` variables like every other setting; the broker is the
platform's Redis (``CPTED_REDIS_URL``, as in ``make run``) unless
``CPTED_CELERY_BROKER_URL`` names another one: RabbitMQ (``amqp://``), the
production broker, or a plain Redis (Celery's Redis transport does not speak
Redis Cluster). ``CPTED_CELERY_BROKER_PASSWORD`` is the broker's password when
the URL leaves it out, so the URL can sit with the non-secret settings.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Self

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CswbSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPTED_", extra="ignore")

    celery_broker_url: str | None = None
    celery_broker_password: SecretStr | None = None
    # Redis only: above the longest task and the longest retry countdown, or Redis hands the task to a second
    # worker (RabbitMQ takes a task back only when its worker's connection drops).
    celery_visibility_timeout_s: int = 7200
    celery_task_time_limit_s: int = 1800
    celery_concurrency: int = 2

    # Crontab in local time: minute hour day-of-month month day-of-week.
    cswb_schedule: str = "0 2 * * *"
    # When above zero, the nightly run fires every so many seconds instead (demos and tests).
    cswb_every_s: float = 0
    # The nightly run also builds the feeds of the days before yesterday that have none yet.
    cswb_catch_up_days: int = 3
    cswb_window_days: int = 365
    # The nightly run waits this long at most for the metrics consumer to catch up before building.
    cswb_consumer_wait_s: float = 900

    # Where every feed is POSTed; only ever taken from here, never from a request.
    cswb_destinations: list[str] = []
    cswb_signing_secret: SecretStr | None = None
    cswb_timeout_s: float = 10.0
    cswb_max_attempts: int = 8
    cswb_backoff_base_s: float = 30.0
    cswb_backoff_max_s: float = 3600.0

    @field_validator("cswb_schedule")
    @classmethod
    def _five_crontab_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError("CPTED_CSWB_SCHEDULE is a crontab: minute hour day-of-month month day-of-week")
        return value

    @model_validator(mode="after")
    def _tasks_finish_within_the_visibility_timeout(self) -> Self:
        longest = max(self.celery_task_time_limit_s, self.cswb_backoff_max_s)
        if self.celery_visibility_timeout_s <= longest:
            raise ValueError(
                f"CPTED_CELERY_VISIBILITY_TIMEOUT_S ({self.celery_visibility_timeout_s}) must exceed the task "
                f"time limit and the longest retry wait ({longest:g} s), or tasks are delivered twice"
            )
        return self


@lru_cache
def get_cswb_settings() -> CswbSettings:
    return CswbSettings()

"""Settings for every process, read from ``CPTED_*`` environment variables.

When no database or Redis URL is configured, the URLs written by ``cpted dev``
to ``<var_dir>/servers.json`` are used, so every ``cpted`` command run beside a
running ``make run`` finds the same embedded servers with no configuration.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.clock import Clock

SERVERS_FILE = "servers.json"
SERVICE_URLS = ("audits_url", "events_url", "metrics_url")


class NotConfigured(RuntimeError):
    """No server URL is configured and no ``cpted dev`` is running."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CPTED_", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    var_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    stream_prefix: str = "cpted"
    # The pool keeps every connection it opens: one opened beyond it (an overflow) is closed on its return, and
    # under a load that needs it each request would pay a new connection's handshake (measured: a fifth of the
    # API's write rate at 16 concurrent requests). The same ceiling as 10 + 10, kept open.
    db_pool_size: int = 20
    db_max_overflow: int = 0
    db_timeout_s: float = 5.0
    # PostgreSQL ends a pooled session left idle inside a transaction this long (0: never). Such a session, of a
    # process stuck between two statements, would hold up every later event of its outbox (the relays publish in
    # outbox order). Outbound calls inside a transaction time out within 10 s; the transactions that may rightly
    # sit idle longer (a retention run's lock, a crime import, a CSWB feed's snapshot) lift it for themselves
    # (shared.db.engine.UNHURRIED).
    db_idle_in_transaction_s: float = Field(default=60.0, ge=0)
    # The bin directory of pg_dump/pg_restore of the server's major version, when neither the embedded
    # server's wheel, the PATH nor /usr/lib/postgresql/<major>/bin has them (`cpted backup`, `cpted restore`).
    pg_bin_dir: Path | None = None

    # Event bus
    consumer_group: str = "metrics"
    # Partitions per producer's stream (shared/bus/partitions.py). With 1 each producer has the one stream
    # `<prefix>:<source>` that every consumer reads; with more, each partition is its own key (and hash slot
    # on a Redis Cluster) and the consumers divide the partitions among themselves.
    stream_partitions: int = Field(default=1, ge=1, le=1024)
    # How long a consumer's hold on a partition lasts unless renewed: a dead consumer's partitions are taken
    # over this long after its last renewal.
    partition_lease_ms: int = Field(default=10_000, ge=500)
    consumer_name: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    consumer_batch: int = 500
    # Keep what a process holds once started out of the collector's full passes (shared/heap.py).
    heap_freeze: bool = True
    consumer_block_ms: int = 500
    claim_idle_ms: int = 30_000
    claim_every_s: float = 5.0
    max_deliveries: int = 5
    relay_batch: int = 500
    # Relays wake on the outbox's commit notification; this poll only covers one missed while reconnecting.
    relay_poll_s: float = 1.0
    log_gap_timeout_s: float = 10.0
    # The metrics consumer compares the projections with the producers' logs this often, and re-applies
    # an event still missing after the grace period when the bus has nothing left for it.
    log_check_every_s: float = 2.0
    log_loss_grace_s: float = 10.0
    # Relays and consumers answer /healthz (and /metrics) on this port when it is set.
    health_port: int | None = None
    health_host: str = "0.0.0.0"
    heartbeat_max_age_s: float = 30.0
    # Tracing (docs/tracing.md): the base URL of an OTLP/HTTP collector, e.g. http://otel-collector:4318; unset,
    # the standard OTEL_EXPORTER_OTLP_ENDPOINT is used, and without either tracing is off.
    otlp_endpoint: str | None = None

    # Processes of each API under `cpted dev` (`make run`); production sets it per container (docs/scaling.md).
    api_workers: int = Field(default=1, ge=1, le=64)

    # Auth and protection
    rate_limit_per_second: int = 200
    max_body_bytes: int = 1_048_576
    request_timeout_s: float = 30.0
    # How old an Idempotency-Key's claim without a stored answer must be before a repeat re-runs it for one.
    idempotency_recover_after_s: float = 3.0
    cors_origins: list[str] = []
    cors_origin_regex: str | None = None
    hsts: bool = False
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    # A reader key a service sends when it calls another on no caller's behalf (OGC API's keyless reads);
    # `cpted dev` issues one.
    service_api_key: str | None = None

    # Retention (docs/retention.md): days after which each kind of record is removed; 0 keeps it for ever.
    # The requester's name, email and phone of an audit request, counted from the day the request closed.
    retention_requester_days: int = Field(default=365, ge=0)
    retention_dead_letter_days: int = Field(default=90, ge=0)
    # The replay window of an Idempotency-Key: a repeat within it gets the first answer.
    retention_idempotency_days: int = Field(default=7, ge=1)
    # The stored body of a CSWB feed delivered to every destination (its date, digest and deliveries stay).
    retention_cswb_body_days: int = Field(default=90, ge=0)
    retention_webhook_delivery_days: int = Field(default=30, ge=0)
    # Crontab in local time of the nightly retention run.
    retention_schedule: str = "30 3 * * *"

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_audience and self.oidc_jwks_url)

    # Where the producers serve their event logs (for rebuild and reconcile).
    audits_url: str = "http://127.0.0.1:8001"
    events_url: str = "http://127.0.0.1:8002"
    metrics_url: str = "http://127.0.0.1:8003"
    local_timezone: str = "America/Toronto"

    def clock(self) -> Clock:
        return Clock(self.local_timezone)

    def servers_file(self) -> Path:
        return self.var_dir / SERVERS_FILE

    def model_post_init(self, context: Any, /) -> None:
        """A service URL not configured is the one `cpted dev` runs, when it runs: never someone else's port."""
        running = self._dev_servers()
        for name in SERVICE_URLS:
            if name not in self.model_fields_set and running.get(name):
                setattr(self, name, running[name])

    def _dev_servers(self) -> dict[str, str]:
        path = self.servers_file()
        if path.exists():
            return dict(json.loads(path.read_text()))
        return {}

    def resolved_database_url(self) -> str:
        url = self.database_url or self._dev_servers().get("database_url")
        if not url:
            raise NotConfigured("no database: set CPTED_DATABASE_URL or start the platform with `make run`")
        return url

    def resolved_redis_url(self) -> str:
        url = self.redis_url or self._dev_servers().get("redis_url")
        if not url:
            raise NotConfigured("no Redis: set CPTED_REDIS_URL or start the platform with `make run`")
        return url

    def stream(self, source: str) -> str:
        """A producer's stream; with partitions, the name its partitions are named after."""
        return f"{self.stream_prefix}:{source}"

    def streams(self, source: str) -> list[str]:
        """The keys a producer's events are published on: its stream, or each of its partitions.

        A partition's key is its own hash tag (``{<prefix>:<source>:<n>}``, any tag in the prefix dropped),
        so on a Redis Cluster each partition lives on its own slot, with the keys named after it."""
        if self.stream_partitions == 1:
            return [self.stream(source)]
        base = self.stream(source).replace("{", "").replace("}", "")
        return [f"{{{base}:{n}}}" for n in range(self.stream_partitions)]

    def all_streams(self, sources: Iterable[str]) -> list[str]:
        return [stream for source in sources for stream in self.streams(source)]

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.stream_prefix}:dead-letters"


@lru_cache
def get_settings() -> Settings:
    return Settings()

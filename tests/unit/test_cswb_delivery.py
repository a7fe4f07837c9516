"""Delivery rules of the CSWB feeds and the Celery configuration, without any server."""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from collections import namedtuple
from datetime import date

import pytest
from celery import Celery
from celery.schedules import crontab
from pydantic import ValidationError

from services.metrics.cswb.handlers.delivery import backoff_s, headers, signature
from services.metrics.cswb.handlers.feeds import nightly_dates
from services.metrics.cswb.handlers.reads import feed_state, shown
from services.metrics.cswb.settings import CswbSettings
from services.metrics.tasks import broker_url, config, later, schedule
from shared.settings import Settings
from tests.cswb_receiver import signed_ok


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"feed_date":"2026-11-24"}'
    expected = hmac.new(b"s3cret", b"1764000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1764000000, body) == f"sha256={expected}"


def test_a_receiver_can_check_the_headers_and_refuses_another_body_or_an_old_timestamp() -> None:
    body = b'{"feed_date":"2026-11-24"}'
    sent = headers(date(2026, 11, 24), 2, "ab" * 32, body, "s3cret", now=1764000000.5)
    assert sent["Idempotency-Key"] == "cswb-2026-11-24-r2" and sent["X-CSWB-Timestamp"] == "1764000000"
    assert not signed_ok("s3cret", sent, body)  # too old: more than five minutes ago
    fresh = headers(date(2026, 11, 24), 2, "ab" * 32, body, "s3cret", now=time.time())
    assert signed_ok("s3cret", fresh, body)
    assert not signed_ok("s3cret", fresh, body + b" ")
    assert not signed_ok("other", fresh, body)


def test_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(7)
    for attempt, step in [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)]:
        waits = [backoff_s(attempt, 30, 3600, rng) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits)
        assert max(waits) - min(waits) > step / 4  # spread out, not in lockstep


def test_broker_url_speaks_celerys_unix_socket_form() -> None:
    assert broker_url("unix:///work/var/redis/redis.sock") == "redis+socket:///work/var/redis/redis.sock"
    assert broker_url("redis://redis:6379/0") == "redis://redis:6379/0"


def test_the_schedule_is_a_local_crontab_or_an_interval() -> None:
    nightly = schedule(CswbSettings())
    assert isinstance(nightly, crontab) and nightly.hour == {2} and nightly.minute == {0}
    assert schedule(CswbSettings(cswb_every_s=1.5)) == 1.5
    conf = config(Settings(redis_url="redis://r:6379/0", stream_prefix="{cpted}"), CswbSettings())
    assert conf["timezone"] == "America/Toronto"
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"]
    assert conf["broker_transport_options"]["global_keyprefix"] == "{cpted}:celery:"
    assert conf["broker_transport_options"]["visibility_timeout"] > conf["task_time_limit"]
    assert conf["beat_schedule"]["cswb-nightly-feeds"]["task"] == "metrics.build_nightly_feeds"


def test_an_amqp_broker_url_selects_rabbitmq_with_quorum_queues_and_publisher_confirms() -> None:
    platform = Settings(redis_url="redis://r:6379/0", stream_prefix="{cpted}")
    conf = config(platform, CswbSettings(celery_broker_url="amqps://cpted:pw@rabbitmq:5671/cpted"))
    assert conf["broker_url"] == "amqps://cpted:pw@rabbitmq:5671/cpted"
    assert conf["task_default_queue_type"] == "quorum" and conf["worker_detect_quorum_queues"]
    assert conf["broker_transport_options"] == {"confirm_publish": True}  # nothing of Redis's
    assert conf["task_default_exchange_type"] == "topic"  # what delayed retries route through
    assert conf["task_acks_late"] and conf["task_reject_on_worker_lost"] and conf["worker_prefetch_multiplier"] == 1
    assert conf["task_ignore_result"] and "result_backend" not in conf
    app = Celery("metrics-config")
    app.conf.update(conf)
    (queue,) = app.amqp.queues.values()
    assert (queue.name, queue.queue_arguments, queue.exchange.type) == ("metrics", {"x-queue-type": "quorum"}, "topic")
    redis = config(platform, CswbSettings())
    assert "task_default_queue_type" not in redis and redis["broker_url"] == "redis://r:6379/0"
    apart = CswbSettings(celery_broker_url="amqp://cpted@rabbitmq:5672/cpted", celery_broker_password="pw")
    app.conf.update(config(platform, apart))
    assert app.connection_for_write().as_uri(include_password=True) == "amqp://cpted:pw@rabbitmq:5672/cpted"


def test_a_retry_waits_whole_seconds_never_less_than_asked() -> None:
    assert [later(s) for s in (0, 0.3, 1, 1.2, 30.0)] == [1, 1, 1, 2, 30]


def test_a_visibility_timeout_below_the_longest_task_or_retry_wait_is_refused() -> None:
    with pytest.raises(ValidationError, match="VISIBILITY_TIMEOUT"):
        CswbSettings(celery_visibility_timeout_s=600)
    with pytest.raises(ValidationError, match="VISIBILITY_TIMEOUT"):
        CswbSettings(celery_visibility_timeout_s=3000, celery_task_time_limit_s=60, cswb_backoff_max_s=3000)
    with pytest.raises(ValidationError, match="crontab"):
        CswbSettings(cswb_schedule="02:00")


def test_nightly_dates_are_yesterday_and_the_catch_up_window_oldest_first() -> None:
    assert nightly_dates(date(2026, 3, 9), 3) == [date(2026, 3, 6), date(2026, 3, 7), date(2026, 3, 8)]
    assert nightly_dates(date(2026, 3, 9), 0) == [date(2026, 3, 8)]


def test_destinations_are_shown_without_credentials_or_query() -> None:
    assert shown("https://u:p@feeds.ontario.example/cswb?token=abc") == "https://feeds.ontario.example/cswb"
    assert shown("http://127.0.0.1:9000/in") == "http://127.0.0.1:9000/in"


Row = namedtuple("Row", "state")


@pytest.mark.parametrize(
    ("states", "expected"),
    [((), "built"), (("delivered", "delivered"), "delivered"), (("delivered", "retrying"), "pending"),
     (("failed", "delivered"), "failed"), (("pending",), "pending")],
)  # fmt: skip
def test_a_feed_is_failed_when_any_destination_gave_up(states: tuple[str, ...], expected: str) -> None:
    assert feed_state([Row(s) for s in states]) == expected


def test_make_run_supervises_one_celery_worker_and_one_beat() -> None:
    from cpted.dev import Ports, children

    celery = {c.name: c.args for c in children(Ports()) if "celery" in c.args}
    assert set(celery) == {"worker", "beat"}
    assert all("services.metrics.tasks:celery_app" in args for args in celery.values())

"""Retention on real PostgreSQL and Redis: each kind goes exactly when its period is over, never before; the
erasure of a requester's contact is in the audit trail without the values; a dry run changes nothing; two
runs at once remove once. Time is a fixed clock handed to the run, never a sleep."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.audits import retention as audits_retention
from services.events import retention as events_retention
from services.metrics import retention as metrics_retention
from shared.auth.keys import Scope
from shared.clock import Clock
from shared.logs import JsonFormatter
from shared.retention import ACTOR, Kind, apply, report_line, runner
from shared.settings import Settings, get_settings
from tests import factories
from tests.integration.conftest import client_for, new_key
from tests.integration.test_audit_requests_api import a_request, no_personal_data
from tests.integration.test_cli import _cpted as cpted

SECOND = timedelta(seconds=1)


def at(moment: datetime) -> Clock:
    return Clock("America/Toronto", lambda: moment)


def settings(**days: int) -> Settings:
    return get_settings().model_copy(update={f"retention_{k}_days": v for k, v in days.items()})


async def run_audits(engine: AsyncEngine, moment: datetime, *, dry_run: bool = False, **days: int) -> dict[str, int]:
    clock = at(moment)
    kinds = audits_retention.kinds(engine, settings(**days), clock)
    return await runner(engine, "audits", kinds, clock)(dry_run)


async def run_metrics(
    engine: AsyncEngine, redis: Redis, moment: datetime, *, dry_run: bool = False, **days: int
) -> dict[str, int]:
    clock = at(moment)
    kinds = metrics_retention.kinds(engine, redis, settings(**days), clock)
    return await runner(engine, "metrics", kinds, clock)(dry_run)


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def closed_request(api: httpx.AsyncClient, world: dict[str, Any], how: str) -> dict[str, Any]:
    created = (await api.post("/v1/audit-requests", json=a_request(world))).json()
    if how == "rejected":
        step = {"status": "rejected", "reason": "private property"}
        return (await api.patch(f"/v1/audit-requests/{created['id']}", json=step)).json()
    scheduled = {"status": "scheduled", "audit_id": world["audit"]["id"]}
    await api.patch(f"/v1/audit-requests/{created['id']}", json=scheduled)
    return (await api.patch(f"/v1/audit-requests/{created['id']}", json={"status": "done"})).json()


async def closed_at(engine: AsyncEngine, id_: str) -> datetime:
    return await scalar(engine, "SELECT closed_at FROM audits.audit_request WHERE id = :id", id=uuid.UUID(id_))  # type: ignore[no-any-return]


async def on_file(engine: AsyncEngine) -> int:
    return int(await scalar(engine, "SELECT count(*) FROM audits.audit_request_requester"))


async def test_a_requesters_contact_is_erased_its_period_after_the_request_closed_and_the_trail_says_so(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    done = await closed_request(audits_api, world, "done")
    rejected = await closed_request(audits_api, world, "rejected")
    still_open = (await audits_api.post("/v1/audit-requests", json=a_request(world))).json()
    assert done["closed_at"] and rejected["closed_at"] and still_open["closed_at"] is None
    first, second = [await closed_at(engine, r["id"]) for r in (done, rejected)]
    assert first < second
    period, tick = timedelta(days=30), timedelta(microseconds=1)

    async def erased(moment: datetime, dry_run: bool = False) -> int:
        return (await run_audits(engine, moment, dry_run=dry_run, requester=30))["requester_contacts"]

    assert await erased(first + period) == 0  # exactly N days after: not yet
    assert await erased(second + period + tick, dry_run=True) == 2
    assert await on_file(engine) == 3
    assert await erased(first + period + tick) == 1
    assert await on_file(engine) == 2  # the request closed later keeps its requester until its own day
    assert await erased(second + period + tick) == 1
    assert await erased(second + timedelta(days=999)) == 0
    assert await on_file(engine) == 1  # the open request keeps its requester

    for closed in (done, rejected):
        after = (await audits_api.get(f"/v1/audit-requests/{closed['id']}")).json()
        assert (after["requester_on_file"], after["version"]) == (False, closed["version"] + 1)
        trail = (await audits_api.get("/v1/audit-trail", params={"subject_id": closed["id"]})).json()["items"]
        erasure = trail[0]
        assert (erasure["actor"], erasure["type"]) == (ACTOR, "audit_request.updated")
        assert erasure["changes"] == {"requester_fields": [["email", "name", "phone"], []]}
        no_personal_data(trail)
    for feed in ("/v1/outbox", "/v1/changes"):
        no_personal_data((await audits_api.get(feed)).json())


async def test_the_contact_of_a_request_is_in_no_stored_answer_of_an_idempotency_key(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    headers = {"Idempotency-Key": "request-with-contact"}
    assert (await audits_api.post("/v1/audit-requests", json=a_request(world), headers=headers)).status_code == 201
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT body, headers::text FROM audits.idempotency_key"))).all()
    assert stored
    for body, headers_text in stored:
        no_personal_data(bytes(body).decode() + headers_text)


async def test_idempotency_keys_go_after_their_replay_window_and_never_inside_it(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    headers = {"Idempotency-Key": "one-neighbourhood"}
    body = factories.neighbourhood()
    first = await audits_api.post("/v1/neighbourhoods", json=body, headers=headers)
    claimed = await scalar(engine, "SELECT max(created_at) FROM audits.idempotency_key")
    window_ends = claimed + timedelta(days=7)

    removed = await run_audits(engine, window_ends - SECOND, idempotency=7)
    assert removed["idempotency_keys"] == 0
    replay = await audits_api.post("/v1/neighbourhoods", json=body, headers=headers)
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == first.json()
    kept = await scalar(engine, "SELECT count(*) FROM audits.idempotency_key")
    assert (await run_audits(engine, window_ends + SECOND, dry_run=True, idempotency=7))["idempotency_keys"] == kept
    assert await scalar(engine, "SELECT count(*) FROM audits.idempotency_key") == kept
    assert (await run_audits(engine, window_ends + SECOND, idempotency=7))["idempotency_keys"] == kept
    assert await scalar(engine, "SELECT count(*) FROM audits.idempotency_key") == 0


async def test_two_runs_at_once_erase_each_contact_once(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    closed = [await closed_request(audits_api, world, "done") for _ in range(4)]
    later = max(datetime.fromisoformat(r["closed_at"]) for r in closed) + timedelta(days=31)
    first, second = await asyncio.gather(*(run_audits(engine, later, requester=30) for _ in range(2)))
    assert first["requester_contacts"] + second["requester_contacts"] == 4
    erasures = await scalar(engine, "SELECT count(*) FROM audits.outbox WHERE envelope->>'actor' = :actor", actor=ACTOR)
    assert erasures == 4 and await on_file(engine) == 0


async def test_dead_letters_go_their_period_after_they_failed(engine: AsyncEngine, redis: Redis, clean: None) -> None:
    stream = get_settings().dead_letter_stream
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for age in (timedelta(days=91), timedelta(days=90) + SECOND, timedelta(days=90) - SECOND, timedelta(days=1)):
        await redis.xadd(stream, {"event": "{}", "error": "boom"}, id=f"{int((now - age).timestamp() * 1000)}-0")

    assert (await run_metrics(engine, redis, now, dry_run=True, dead_letter=90))["dead_letters"] == 2
    assert await redis.xlen(stream) == 4
    assert (await run_metrics(engine, redis, now, dead_letter=90))["dead_letters"] == 2
    assert (await run_metrics(engine, redis, now, dead_letter=90))["dead_letters"] == 0
    assert await redis.xlen(stream) == 2


async def _feed(engine: AsyncEngine, day: date, deliveries: list[tuple[str, datetime | None]]) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO metrics.cswb_feed (feed_date, digest, body) VALUES (:day, 'd', :body)"),
            {"day": day, "body": b'{"feed": 1}'},
        )
        for k, (state, delivered_at) in enumerate(deliveries):
            await conn.execute(
                text(
                    "INSERT INTO metrics.cswb_delivery (feed_date, destination, revision, state, delivered_at) "
                    "VALUES (:day, :url, 1, :state, :at)"
                ),
                {"day": day, "url": f"https://cswb{k}.example/feeds", "state": state, "at": delivered_at},
            )


async def test_a_feed_body_goes_its_period_after_every_destination_had_it_and_the_feed_record_stays(
    engine: AsyncEngine, redis: Redis, metrics_api: httpx.AsyncClient
) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    await _feed(engine, date(2026, 2, 1), [("delivered", old), ("delivered", old)])
    await _feed(engine, date(2026, 2, 2), [("delivered", old), ("delivered", recent)])
    await _feed(engine, date(2026, 2, 3), [("delivered", old), ("failed", None)])
    await _feed(engine, date(2026, 2, 4), [("delivered", old), ("retrying", None)])
    await _feed(engine, date(2026, 2, 5), [])  # never delivered anywhere

    assert (await run_metrics(engine, redis, now, dry_run=True, cswb_body=90))["cswb_feed_bodies"] == 1
    assert (await run_metrics(engine, redis, now, cswb_body=90))["cswb_feed_bodies"] == 1
    assert (await run_metrics(engine, redis, now, cswb_body=90))["cswb_feed_bodies"] == 0
    bodies = "SELECT feed_date FROM metrics.cswb_feed WHERE body IS NULL"
    async with engine.connect() as conn:
        assert (await conn.execute(text(bodies))).scalars().all() == [date(2026, 2, 1)]
    gone = await metrics_api.get("/v1/cswb/feeds/2026-02-01")
    assert gone.status_code == 404 and "retention policy" in gone.json()["detail"]
    assert (await metrics_api.get("/v1/cswb/feeds/2026-02-02")).status_code == 200
    listed = {f["feed_date"]: f for f in (await metrics_api.get("/v1/cswb/feeds")).json()["items"]}
    kept = listed["2026-02-01"]
    assert kept["size_bytes"] is None and kept["body_removed_at"] and kept["digest"] == "d"
    assert [d["state"] for d in kept["deliveries"]] == ["delivered", "delivered"]


async def test_finished_webhook_deliveries_go_their_period_after_their_last_attempt(
    engine: AsyncEngine, redis: Redis, clean: None
) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    subscription = uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO metrics.webhook_subscription (id, url, secret, created_by) "
                "VALUES (:id, 'https://hooks.example/x', 's', 'test')"
            ),
            {"id": subscription},
        )
        for state, last in [("delivered", old), ("failed", old), ("delivered", recent), ("retrying", old)]:
            await conn.execute(
                text(
                    "INSERT INTO metrics.webhook_delivery (id, subscription_id, event_id, event_type, body, state, "
                    "last_attempt_at, delivered_at, created_at) VALUES (:id, :sub, :event, 'audit.created', '', "
                    ":state, :last, :delivered, :last)"
                ),
                {
                    "id": uuid.uuid4(),
                    "sub": subscription,
                    "event": uuid.uuid4(),
                    "state": state,
                    "last": last,
                    "delivered": last if state == "delivered" else None,
                },
            )
    assert (await run_metrics(engine, redis, now, dry_run=True, webhook_delivery=30))["webhook_deliveries"] == 2
    assert (await run_metrics(engine, redis, now, webhook_delivery=30))["webhook_deliveries"] == 2
    states = await scalar(engine, "SELECT string_agg(state, ',' ORDER BY state) FROM metrics.webhook_delivery")
    assert states == "delivered,retrying"


async def test_a_period_of_zero_keeps_everything(engine: AsyncEngine, redis: Redis, clean: None) -> None:
    far = datetime(2100, 1, 1, tzinfo=UTC)
    # Idempotency-Key claims cannot be kept for ever (their period is the replay window, at least a day).
    assert await run_metrics(engine, redis, far, dead_letter=0, cswb_body=0, webhook_delivery=0) == {
        "idempotency_keys": 0
    }


@pytest.fixture
async def producers(engine: AsyncEngine, admin_key: str) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """The producers as the nightly task reaches them: over HTTP with a service key."""
    from services.audits.app import create_app as audits_app
    from services.events.app import create_app as events_app

    key = await new_key(engine, Scope.service)
    async for audits in client_for(audits_app(), key):
        async for events in client_for(events_app(), key):
            yield {"audits": audits, "events": events}


async def test_the_nightly_run_reaches_every_service_and_reports_each_kind(
    producers: dict[str, httpx.AsyncClient], engine: AsyncEngine, redis: Redis
) -> None:
    clock = at(datetime.now(UTC))
    runs = {source: metrics_retention.over_http(client) for source, client in producers.items()}
    report = await metrics_retention.apply_everywhere(engine, redis, get_settings(), clock, runs, dry_run=True)
    assert report == {
        "metrics": {"dead_letters": 0, "cswb_feed_bodies": 0, "webhook_deliveries": 0, "idempotency_keys": 0},
        "audits": {"requester_contacts": 0, "idempotency_keys": 0},
        "events": {"idempotency_keys": 0},
    }
    assert [k.name for k in events_retention.kinds(engine, get_settings(), clock)] == ["idempotency_keys"]


async def test_only_service_and_admin_keys_apply_the_retention_policy(
    audits_api: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    reader = await new_key(engine, Scope.reader)
    answer = await audits_api.post("/v1/retention", headers={"Authorization": f"Bearer {reader}"})
    assert answer.status_code == 403
    assert (await audits_api.post("/v1/retention", params={"dry_run": "true"})).json()["dry_run"] is True


async def test_the_command_line_counts_on_a_dry_run_then_removes(
    audits_api: httpx.AsyncClient, world: dict[str, Any], engine: AsyncEngine
) -> None:
    closed = await closed_request(audits_api, world, "done")
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE audits.audit_request SET closed_at = now() - interval '400 days' WHERE id = :id"),
            {"id": uuid.UUID(closed["id"])},
        )
    code, out, err = await cpted("retention", "--dry-run", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert {"service": "audits", "kind": "requester_contacts", "due": 1} in rows and "nothing was removed" in err
    assert await on_file(engine) == 1
    code, out, err = await cpted("retention", "--json")
    assert code == 0, err
    assert {"service": "audits", "kind": "requester_contacts", "removed": 1} in map(json.loads, out.splitlines())
    assert await on_file(engine) == 0


def test_beat_sends_the_retention_run_nightly_and_the_run_logs_what_it_removed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from services.metrics.cswb.settings import CswbSettings
    from services.metrics.tasks import config

    nightly = config(settings(), CswbSettings())["beat_schedule"]["retention-nightly"]
    assert nightly["task"] == "metrics.apply_retention"
    assert (str(nightly["schedule"].hour), str(nightly["schedule"].minute)) == ("{3}", "{30}")
    with caplog.at_level(logging.INFO, logger="shared.retention"):
        report_line({"audits": {"requester_contacts": 2}}, dry_run=False)
    (record,) = caplog.records
    line = json.loads(JsonFormatter().format(record))
    assert (line["removed"], line["dry_run"]) == ({"audits": {"requester_contacts": 2}}, False)
    assert json.loads(record.getMessage().split(": ", 1)[1]) == line["removed"]


async def test_building_a_feed_again_stores_its_removed_body_and_redelivery_is_refused_until_then(
    engine: AsyncEngine, redis: Redis, clean: None
) -> None:
    from services.metrics.cswb.handlers import feeds
    from services.metrics.cswb.settings import CswbSettings
    from shared.errors import NotFound

    cswb = CswbSettings(cswb_destinations=["https://cswb.example/feeds"], cswb_signing_secret="s")
    day, zone = date(2026, 2, 1), "America/Toronto"
    built = await feeds.build_feed(engine, day, cswb, zone)
    delivered = datetime(2026, 2, 2, tzinfo=UTC)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE metrics.cswb_delivery SET state = 'delivered', delivered_at = :at"), {"at": delivered}
        )
    assert (await run_metrics(engine, redis, delivered + timedelta(days=91), cswb_body=90))["cswb_feed_bodies"] == 1
    with pytest.raises(NotFound, match="retention policy"):
        await feeds.redeliver(engine, cswb, day)

    again = await feeds.build_feed(engine, day, cswb, zone)
    assert (again.outcome, again.digest) == ("unchanged", built.digest)
    body = "SELECT sha256(body), body_removed_at FROM metrics.cswb_feed"
    async with engine.connect() as conn:
        sha, removed_at = (await conn.execute(text(body))).one()
    assert bytes(sha).hex() == built.digest and removed_at is None
    assert await feeds.redeliver(engine, cswb, day)


async def test_a_run_that_fails_leaves_no_lock_behind(engine: AsyncEngine) -> None:
    async def failing(cutoff: datetime, dry_run: bool) -> int:
        raise RuntimeError("the database went away")

    now = datetime(2026, 6, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        await apply(engine, "audits", [Kind("failing", 1, failing)], now, dry_run=False)
    assert await asyncio.wait_for(apply(engine, "audits", [], now, dry_run=False), timeout=10) == {}

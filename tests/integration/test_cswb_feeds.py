"""CSWB feeds on real PostgreSQL: built from the demo projections, one row per date, served, delivered."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import httpx
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.cswb.domain.schema import validate
from services.metrics.cswb.handlers import delivery, feeds
from services.metrics.cswb.settings import CswbSettings, get_cswb_settings
from services.metrics.cswb.store.feeds import Ticket
from shared.auth.keys import Scope
from tests.cswb_receiver import Receiver
from tests.integration.conftest import client_for, new_key, schema_errors
from tests.integration.test_bus import _consume_all, _consumer, _relay_all

DAY = date(2026, 11, 20)
ZONE = "America/Toronto"
SECRET = "integration-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(SECRET).start()
    yield r
    r.stop()


def _cswb(receiver: Receiver | None = None, **overrides: Any) -> CswbSettings:
    destinations = [receiver.url] if receiver else []
    return CswbSettings(cswb_destinations=destinations, cswb_signing_secret=SECRET, **overrides)


async def _rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT count(*) FROM metrics.{table}"))).scalar_one())


def _overall(document: dict[str, Any]) -> dict[str, Any]:
    return {r["indicator"]: r["values"] for r in document["overall"]["indicators"] if "key" not in r}


async def test_the_demo_feed_reports_the_programme_and_rebuilds_byte_identical(
    engine: AsyncEngine, redis: Redis, clean: None
) -> None:
    from cpted.demo.audits import load_demo
    from cpted.demo.crime import load_crime_demo
    from cpted.demo.engagement import load_engagement_demo

    assert await load_demo(engine) and await load_crime_demo(engine) and await load_engagement_demo(engine)
    await _relay_all(redis, "audits")
    await _relay_all(redis, "events")
    await _consume_all(_consumer(engine, redis))

    first = await feeds.build_feed(engine, DAY, _cswb(), ZONE)
    again = await feeds.build_feed(engine, DAY, _cswb(), ZONE)
    assert (first.outcome, again.outcome) == ("created", "unchanged") and first.digest == again.digest
    async with engine.connect() as conn:
        body = (await conn.execute(text("SELECT body FROM metrics.cswb_feed"))).scalar_one()
    document = orjson.loads(body)
    validate(document)
    overall = _overall(document)
    assert overall["audits"]["to_date"] == 20 and overall["recommendations"]["to_date"] == 201
    assert overall["recommendations_implemented"]["to_date"] == 27 and overall["special_events"]["to_date"] == 19
    assert overall["incidents"]["to_date"] > 4000 and overall["pooled_audits"]["to_date"] > 0
    # The pooled evaluation says which outcome is primary, how it was computed and what was corrected.
    note = document["evaluation"]
    assert note["primary"] == "random_effects_overdispersion" and "over-dispersion" in note["method"]
    assert note["complete"] is True and isinstance(note["corrections"], list)
    low, high = overall["pooled_primary_odds_ratio_ci95_low"], overall["pooled_primary_odds_ratio_ci95_high"]
    assert low["to_date"] <= overall["pooled_primary_odds_ratio"]["to_date"] <= high["to_date"]
    assert note["significant"] == (low["to_date"] > 1 or high["to_date"] < 1)
    assert len(document["partnerships"]) == 4 and len(document["neighbourhoods"]) >= 4
    suppressed = [r for b in document["neighbourhoods"] for r in b["indicators"] if r.get("suppressed")]
    assert suppressed, "the demo's small neighbourhood cells are suppressed"
    assert b"Glengarry" not in body and b"site_name" not in body  # aggregates only: no names, no rows
    assert await _rows(engine, "cswb_feed") == 1


async def test_concurrent_builds_of_one_date_store_one_feed(engine: AsyncEngine, clean: None) -> None:
    built = await asyncio.gather(*(feeds.build_feed(engine, DAY, _cswb(), ZONE) for _ in range(6)))
    assert sorted(b.outcome for b in built) == ["created"] + ["unchanged"] * 5
    assert len({b.digest for b in built}) == 1 and await _rows(engine, "cswb_feed") == 1


async def test_the_nightly_run_builds_missing_dates_and_leaves_built_ones(engine: AsyncEngine, clean: None) -> None:
    await feeds.build_feed(engine, date(2026, 3, 7), _cswb(), ZONE)
    built, tickets = await feeds.build_nightly(engine, _cswb(cswb_catch_up_days=3), ZONE, date(2026, 3, 9))
    assert [(b.feed_date.day, b.outcome) for b in built] == [(6, "created"), (7, "exists"), (8, "created")]
    assert tickets == [] and await _rows(engine, "cswb_feed") == 3


async def test_a_destination_that_keeps_failing_ends_failed_with_its_last_error_in_the_list(
    engine: AsyncEngine, clean: None, receiver: Receiver, admin_key: str
) -> None:
    receiver.always_fail = True
    cswb = _cswb(receiver, cswb_max_attempts=2)
    await feeds.build_feed(engine, DAY, cswb, ZONE)
    (ticket,) = await feeds.due(engine, cswb)
    async with delivery.new_client(cswb) as client:
        first = await delivery.deliver(engine, cswb, ticket, client)
        stale = await delivery.deliver(engine, cswb, ticket, client)  # a duplicate of the first task
        last = await delivery.deliver(engine, cswb, Ticket(DAY, receiver.url, ticket.token + 1), client)
    assert (first.state, stale.state, last.state) == ("retrying", "skipped", "failed")
    assert first.retry_in_s is not None and receiver.tries(DAY.isoformat()) == [503, 503]
    from services.metrics.app import create_app

    async for api in client_for(create_app(), admin_key):
        (item,) = (await api.get("/v1/cswb/feeds")).json()["items"]
    assert item["state"] == "failed"
    assert item["deliveries"][0]["attempts"] == 2 and item["deliveries"][0]["last_error"].startswith("HTTP 503")


async def test_a_delivery_without_a_signing_secret_is_never_sent(
    engine: AsyncEngine, clean: None, receiver: Receiver
) -> None:
    cswb = _cswb(receiver).model_copy(update={"cswb_signing_secret": None})
    await feeds.build_feed(engine, DAY, cswb, ZONE)
    (ticket,) = await feeds.due(engine, cswb)
    async with delivery.new_client(cswb) as client:
        outcome = await delivery.deliver(engine, cswb, ticket, client)
    assert outcome.state == "failed" and "SIGNING_SECRET" in (outcome.error or "") and receiver.attempts == []


@pytest.fixture
async def feed_api(engine: AsyncEngine, clean: None, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    from services.metrics.app import create_app

    monkeypatch.setenv("CPTED_CSWB_DESTINATIONS", "[]")
    get_cswb_settings.cache_clear()
    await feeds.build_feed(engine, DAY, _cswb(), ZONE)
    keys = {scope: await new_key(engine, scope) for scope in (Scope.admin, Scope.reader, Scope.feed)}
    keys[Scope.editor] = await new_key(engine, Scope.editor, [])
    app = create_app()
    async for api in client_for(app, None):
        yield {"api": api, "keys": keys}
    get_cswb_settings.cache_clear()


def _auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


async def test_feed_readers_get_the_exact_bytes_and_the_csv_twin(feed_api: dict[str, Any], engine: AsyncEngine) -> None:
    api: httpx.AsyncClient = feed_api["api"]
    feed_key = feed_api["keys"][Scope.feed]
    got = await api.get(f"/v1/cswb/feeds/{DAY}", headers=_auth(feed_key))
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert await schema_errors(api, "/v1/cswb/feeds/{date}", got) == []  # the feed's schema, as the document has it
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT body, digest FROM metrics.cswb_feed"))).one()
    assert got.content == bytes(stored.body) and got.headers["etag"] == f'"{stored.digest}"'
    by_accept = await api.get(f"/v1/cswb/feeds/{DAY}", headers=_auth(feed_key, Accept="text/csv"))
    by_suffix = await api.get(f"/v1/cswb/feeds/{DAY}.csv", headers=_auth(feed_key))
    assert by_accept.text == by_suffix.text and by_suffix.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(by_suffix.text)))
    assert {r["area"] for r in rows} == {"social_development", "prevention", "risk_intervention", "incident_response"}
    listed = (await api.get("/v1/cswb/feeds", headers=_auth(feed_key))).json()
    assert [i["feed_date"] for i in listed["items"]] == [DAY.isoformat()] and listed["items"][0]["state"] == "built"
    assert (await api.get("/v1/cswb/feeds/2026-01-01", headers=_auth(feed_key))).status_code == 404


async def test_who_may_read_and_redeliver(feed_api: dict[str, Any]) -> None:
    api: httpx.AsyncClient = feed_api["api"]
    keys = feed_api["keys"]
    schema = await api.get("/v1/cswb/schema")
    assert schema.status_code == 200 and schema.headers["content-type"] == "application/schema+json"
    for scope, status in ((Scope.admin, 200), (Scope.reader, 200), (Scope.feed, 200), (Scope.editor, 403)):
        assert (await api.get("/v1/cswb/feeds", headers=_auth(keys[scope]))).status_code == status, scope
    assert (await api.get("/v1/cswb/feeds")).status_code == 401
    redeliver = f"/v1/cswb/feeds/{DAY}/redeliver"
    assert (await api.post(redeliver, headers=_auth(keys[Scope.feed]))).status_code == 403
    assert (await api.post(redeliver, headers=_auth(keys[Scope.admin]))).status_code == 409  # nowhere to send


async def test_the_list_pages_by_date_newest_first(feed_api: dict[str, Any], engine: AsyncEngine) -> None:
    for day in (date(2026, 11, 18), date(2026, 11, 19)):
        await feeds.build_feed(engine, day, _cswb(), ZONE)
    api, key = feed_api["api"], feed_api["keys"][Scope.reader]
    first = (await api.get("/v1/cswb/feeds", params={"limit": 2}, headers=_auth(key))).json()
    second = (await api.get("/v1/cswb/feeds", params={"cursor": first["next_cursor"]}, headers=_auth(key))).json()
    assert [i["feed_date"] for i in first["items"] + second["items"]] == ["2026-11-20", "2026-11-19", "2026-11-18"]
    assert second["next_cursor"] is None
    ranged = await api.get("/v1/cswb/feeds", params={"from": "2026-11-19", "to": "2026-11-19"}, headers=_auth(key))
    assert [i["feed_date"] for i in ranged.json()["items"]] == ["2026-11-19"]
    assert (await api.get("/v1/cswb/feeds", params={"cursor": "nope!"}, headers=_auth(key))).status_code == 422


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cpted", "cswb", *args], capture_output=True, text=True, timeout=120)


async def test_the_back_fill_command_builds_a_range_once(engine: AsyncEngine, clean: None) -> None:
    first = await asyncio.to_thread(_cli, "build", "--from", "2026-10-01", "--to", "2026-10-05", "--no-deliver")
    assert first.returncode == 0, first.stderr
    assert "5 dates: 5 created" in first.stdout
    again = await asyncio.to_thread(_cli, "build", "--from", "2026-10-04", "--to", "2026-10-05")
    assert again.returncode == 0 and "2 dates: 2 unchanged" in again.stdout
    assert await _rows(engine, "cswb_feed") == 5
    backwards = await asyncio.to_thread(_cli, "build", "--from", "2026-10-05", "--to", "2026-10-01")
    assert backwards.returncode == 2 and "after" in backwards.stderr


async def test_an_admin_redelivers_a_delivered_feed_to_every_destination(
    engine: AsyncEngine, clean: None, receiver: Receiver, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.metrics.app import create_app

    cswb = _cswb(receiver)
    await feeds.build_feed(engine, DAY, cswb, ZONE)
    (ticket,) = await feeds.due(engine, cswb)
    async with delivery.new_client(cswb) as client:
        assert (await delivery.deliver(engine, cswb, ticket, client)).state == "delivered"
    assert await feeds.due(engine, cswb) == []
    monkeypatch.setenv("CPTED_CSWB_DESTINATIONS", orjson.dumps([receiver.url]).decode())
    get_cswb_settings.cache_clear()
    try:
        async for api in client_for(create_app(), admin_key):
            answer = await api.post(f"/v1/cswb/feeds/{DAY}/redeliver")
            missing = await api.post("/v1/cswb/feeds/2001-01-01/redeliver")
    finally:
        get_cswb_settings.cache_clear()
    assert answer.status_code == 202 and answer.json()["queued"] == 1 and missing.status_code == 404
    assert answer.json()["destinations"] == [receiver.url]
    assert [t.token for t in await feeds.due(engine, cswb)] == [ticket.token + 1]  # pending again, next attempt

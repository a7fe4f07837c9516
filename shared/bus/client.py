"""Redis connections for the event bus, the rate limiter and everything else that uses Redis.

``CPTED_REDIS_URL`` names either one server (``redis://``, ``rediss://``, ``unix://``: the default, and
what ``make run`` starts) or a Redis Cluster: ``redis+cluster://host:port,host:port,...`` (``rediss+cluster://``
for TLS), any reachable nodes as seeds, with an optional ``user:password@`` before them. ``redis_client`` is
the one place that decides which client that is; every process calls it.

On a cluster a command touches one hash slot: the bus never sends a multi-key command across streams, and
what a single server does in one MULTI (``together``) is done step by step, each step safe to repeat.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster

from shared.settings import Settings

BusRedis = Redis | RedisCluster
"""A client of one Redis server or of a Redis Cluster."""

CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


def redis_client(settings: Settings, **kwargs: Any) -> Any:
    """The client for ``settings``' Redis: a ``RedisCluster`` when the URL names a cluster, else a ``Redis``.

    Typed ``Any`` for its callers: both answer the same commands the platform sends."""
    url = settings.resolved_redis_url()
    if is_cluster_url(url):
        return cluster_client(url, **kwargs)
    return Redis.from_url(url, health_check_interval=30, socket_connect_timeout=5, **kwargs)


class _Cluster(RedisCluster):
    """redis-py finds the keys of a command whose keys move (XREADGROUP, XREAD) by asking a node (COMMAND
    GETKEYS) before every call: a round trip more per read, and reads that fail while that node is down.
    Their streams are the first half of the words after STREAMS: found here without asking."""

    async def _determine_slot(self, command: str, *args: Any) -> int:
        name = command.upper() if isinstance(command, str) else command.decode().upper()
        if name in ("XREADGROUP", "XREAD"):
            words = [a.upper() if isinstance(a, str) else a for a in args]
            start = 3 if name == "XREADGROUP" else 0  # after GROUP <group> <consumer>, which may be any word
            for i in range(start, len(words)):
                if words[i] in ("STREAMS", b"STREAMS"):
                    rest = args[i + 1 :]
                    slots = {self.keyslot(key) for key in rest[: len(rest) // 2]}
                    if len(slots) == 1:
                        return slots.pop()
                    break
        return await super()._determine_slot(command, *args)


def cluster_client(url: str, **kwargs: Any) -> RedisCluster:
    """A ``RedisCluster`` from ``redis+cluster://[user:password@]host:port,host:port,...``."""
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    credentials, _, hosts = authority.rpartition("@")
    username, _, password = credentials.partition(":") if credentials else ("", "", "")
    seeds = []
    for seed in hosts.split(","):
        host, _, port = seed.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"a Redis Cluster URL names its nodes as host:port, comma-separated: not {seed!r}")
        seeds.append(ClusterNode(host.strip("[]"), int(port)))
    return _Cluster(
        startup_nodes=seeds,
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=scheme.startswith("rediss"),
        socket_connect_timeout=5,
        **kwargs,
    )


def is_cluster(redis: Any) -> bool:
    return isinstance(redis, RedisCluster)


def together(redis: Any) -> Pipeline | ClusterPipeline:
    """A pipeline whose commands a single server runs in one MULTI. On a cluster their keys may live on
    different nodes: they are sent in order without the MULTI, so each must be safe to repeat."""
    if is_cluster(redis):
        return redis.pipeline(transaction=False)  # type: ignore[no-any-return]
    return redis.pipeline(transaction=True)  # type: ignore[no-any-return]


async def subscribed(redis: Any, channel: str) -> Any:
    """A pub/sub connection listening on ``channel``. On a cluster (where a PUBLISH reaches every node) it
    is to the node of the channel's slot, which the client must know first: the cluster's map is loaded
    before subscribing."""
    if is_cluster(redis):
        await redis.initialize()
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    return pubsub


async def server_runs(redis: Any) -> frozenset[str]:
    """The run ids of the servers holding the data: one for a single server, every master's for a cluster.
    A new one means a server restarted or a replica took over, either of which may have lost writes."""
    if is_cluster(redis):
        infos = await redis.info("server", target_nodes=RedisCluster.PRIMARIES)
        if infos and all(isinstance(v, dict) for v in infos.values()):
            return frozenset(str(info.get("run_id")) for info in infos.values())
        return frozenset({str(infos.get("run_id"))})
    return frozenset({str((await redis.info("server")).get("run_id"))})

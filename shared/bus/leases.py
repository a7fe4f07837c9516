"""Dividing a stream's partitions among the live consumers of a group, with leases in Redis.

Every consumer, every ``renew_every_s``:
1. says it is alive: its name in the group's member set, scored with the time its word runs out, and
   drops the members whose word ran out;
2. works out its share: the partitions in order, dealt round the live members in name order, so
   every member that sees the same members reaches the same division;
3. renews the leases it holds (a key beside each partition naming its holder, with a time to live)
   and takes the lease of each partition of its share that nobody holds.

A partition changes hands only through its lease: a member gives one up after finishing the batch in
hand (``release``), or dies and its lease runs out; only then can the partition's new holder take it,
with the entries its old holder left pending. A lease whose renewal failed counts as lost once its
time is up, whatever Redis says later. Members that disagree for a moment on who is alive only delay a
handover: no partition ever has two holders in Redis. (A holder stalled past its lease can still finish
a batch it had begun; applying is idempotent by event id, so nothing is counted twice.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisClusterException, RedisError

log = logging.getLogger(__name__)

HOLD = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""
"""Take or renew the lease when it is free or already ours."""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def lease_key(partition: str) -> str:
    """The lease of a partition, beside it (the same hash slot on a cluster)."""
    return f"{partition}:holder"


def share(partitions: Sequence[str], members: Sequence[str], name: str) -> set[str]:
    """The partitions ``name`` reads when ``members`` are alive: dealt round the members in name order."""
    everyone = sorted({*members, name})
    return {p for i, p in enumerate(sorted(partitions)) if everyone[i % len(everyone)] == name}


class Leases:
    def __init__(self, redis: Any, partitions: Sequence[str], members_key: str, name: str, lease_ms: int) -> None:
        self.redis = redis
        self.partitions = list(partitions)
        self.members_key = members_key
        self.name = name
        self.lease_ms = lease_ms
        self._held: dict[str, float] = {}
        self._members_seen: list[str] = [name]
        """Partition -> when (monotonic) our lease on it runs out unless renewed."""

    @property
    def renew_every_s(self) -> float:
        return self.lease_ms / 4000

    def valid(self) -> list[str]:
        """The partitions whose lease is surely still ours."""
        now = time.monotonic()
        return [p for p, until in self._held.items() if until > now]

    async def update(self) -> set[str]:
        """Say we are alive, renew and take leases; returns the partitions to read now.

        A node of a cluster being away fails only what lives on it: the leases there are not renewed (and
        count as lost once their time is up), the others are, and the members last seen stand in for a
        member set that cannot be read."""
        began = time.monotonic()
        try:
            self._members_seen = await self._members()
        except (RedisError, RedisClusterException, OSError, AttributeError, TypeError) as exc:
            # AttributeError, TypeError: redis-py 8.1 writing on a connection the peer reset (redis-py #4287)
            log.warning("consumer %s: the member set cannot be read (%s); dividing among the last seen", self.name, exc)
        mine = share(self.partitions, self._members_seen, self.name)
        wanted = sorted(set(self._held) | mine)  # held but no longer ours: kept until released
        results = await asyncio.gather(*(self._hold(p) for p in wanted), return_exceptions=True)
        for partition, held in zip(wanted, results, strict=True):
            if isinstance(held, BaseException):
                if not isinstance(held, Exception):
                    raise held
                log.warning("consumer %s: the lease of %s not renewed (%r)", self.name, partition, held)
            elif held:
                self._held[partition] = began + self.lease_ms / 1000
            else:
                self._held.pop(partition, None)
        still = set(self.valid())
        self._held = {p: until for p, until in self._held.items() if p in still}
        return mine & still

    async def _members(self) -> list[str]:
        now_ms = int(time.time() * 1000)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.members_key, {self.name: now_ms + self.lease_ms})
            pipe.zremrangebyscore(self.members_key, "-inf", now_ms)
            pipe.zrange(self.members_key, 0, -1)
            pipe.pexpire(self.members_key, self.lease_ms * 10)
            *_, members, _ = await pipe.execute()
        return [m.decode() if isinstance(m, bytes) else m for m in members]

    async def _hold(self, partition: str) -> bool:
        return bool(await self.redis.eval(HOLD, 1, lease_key(partition), self.name, self.lease_ms))

    async def release(self, partition: str) -> None:
        """Give the partition up (its reader has stopped)."""
        self._held.pop(partition, None)
        await self.redis.eval(RELEASE, 1, lease_key(partition), self.name)

    async def release_all(self) -> None:
        """On a clean stop: give every partition up at once, and leave the member set."""
        try:
            for partition in list(self._held):
                await self.release(partition)
            await self.redis.zrem(self.members_key, self.name)
        except Exception:  # the leases run out by themselves
            self._held.clear()

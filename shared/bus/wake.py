"""Waking the relays as soon as a transaction that wrote events commits, and the totals' readers as soon as the
consumer applied a batch.

A writer publishes an empty message on its outbox's wake channel after the commit; a relay subscribed to it
drains at once. A wake carries nothing and may be lost: the relay's slow poll still finds every row. Each
process keeps at most one wake in flight per channel, and commits made meanwhile send one more after it,
so a burst of writes costs a few messages, never one per write, and nothing committed waits for the poll.

PostgreSQL's own NOTIFY would do the same inside the transaction, but it serialises the commits of every
notifying transaction on one lock: measured, the API's write rate fell by a fifth.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from redis.asyncio import Redis

from shared.bus.client import subscribed

log = logging.getLogger(__name__)


def wake_channel(stream: str) -> str:
    """The channel of the relays that publish to ``stream``."""
    return f"{stream}:wake"


class Waker:
    def __init__(self, redis: Redis, channel: str) -> None:
        self.redis = redis
        self.channel = channel
        self._sending: asyncio.Task[None] | None = None
        self._again = False

    def wake(self) -> None:
        """After a commit: wake the relays, without waiting for Redis."""
        if self._sending is not None and not self._sending.done():
            self._again = True  # the wake in flight may reach a relay before this commit is visible
            return
        self._sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while True:
                self._again = False
                await self.redis.publish(self.channel, b"")
                if not self._again:
                    return
        except Exception as exc:  # the relays' poll covers a lost wake
            log.debug("wake on %s not sent: %s", self.channel, exc)


class Wakes:
    """The wakes on one channel, counted, for waiters that want to know whether something changed since they
    looked (``after``). One listener task keeps the subscription and subscribes again after a Redis fault; a
    wake lost meanwhile is covered by the waiters' own timeouts."""

    def __init__(self, redis: Redis, channel: str, retry_s: float = 1.0) -> None:
        self.redis = redis
        self.channel = channel
        self.retry_s = retry_s
        self.count = 0
        self._moved = asyncio.Event()
        self._listening: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._listening = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with suppress(asyncio.CancelledError):
                await self._listening

    async def after(self, count: int, timeout_s: float) -> bool:
        """Whether a wake came after the one numbered ``count`` (read as ``self.count`` before looking), waiting
        up to ``timeout_s`` for one."""
        moved = self._moved
        if self.count == count:
            with suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await moved.wait()
        return self.count != count

    def _woken(self) -> None:
        self.count += 1
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()

    async def _listen(self) -> None:
        while True:
            try:
                wakes = await subscribed(self.redis, self.channel)
                try:
                    async for _ in wakes.listen():
                        self._woken()
                finally:
                    await wakes.aclose()
            except Exception as exc:  # Redis away: subscribe again; the waiters' timeouts cover the gap
                log.debug("wakes on %s: %s", self.channel, exc)
            await asyncio.sleep(self.retry_s)

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
from redis.asyncio.client import PubSub

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


PING_S = 10.0
STOP_S = 5.0


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
        self._stopping = False
        self._subscription: PubSub | None = None

    def start(self) -> None:
        self._listening = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        """Stop listening. The client library may turn a cancellation into a connection error, so the listener
        also looks at ``_stopping`` before subscribing again."""
        self._stopping = True
        if self._subscription is not None:
            with suppress(Exception):  # its pending read fails at once
                await self._subscription.aclose()
        if self._listening is not None:
            self._listening.cancel()
            with suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._listening, STOP_S)

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
        failures = 0
        while not self._stopping:
            try:
                # A server that stopped answering must not hold the subscribing either.
                self._subscription = wakes = await asyncio.wait_for(subscribed(self.redis, self.channel), PING_S)
                try:
                    failures = 0
                    await self._receive(wakes)
                finally:
                    self._subscription = None
                    await wakes.aclose()
            except Exception as exc:  # Redis away: subscribe again; the waiters' timeouts cover the gap
                if self._stopping:
                    return
                failures += 1
                (log.warning if failures == 1 else log.debug)("wakes on %s: %s; subscribing again", self.channel, exc)
            await asyncio.sleep(self.retry_s)

    async def _receive(self, wakes: PubSub) -> None:
        """Count the wakes until the subscription fails. A connection silent for ``PING_S`` is sent a ping, and
        one that does not answer it in as long is given up: a half-open connection (the server's machine gone,
        say) would otherwise be waited on for ever."""
        loop = asyncio.get_running_loop()
        heard, pinged = loop.time(), False
        while not self._stopping:
            message = await wakes.get_message(timeout=1.0)
            if message is not None:
                heard, pinged = loop.time(), False
                if message["type"] in ("message", b"message"):
                    self._woken()
            elif loop.time() - heard >= 2 * PING_S:
                raise ConnectionError(f"no answer to a ping within {PING_S:g} s")
            elif loop.time() - heard >= PING_S and not pinged:
                await wakes.ping()
                pinged = True

"""Waking the relays as soon as a transaction that wrote events commits.

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

from redis.asyncio import Redis

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

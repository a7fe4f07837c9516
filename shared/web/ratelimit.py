"""Requests per second per API key, counted over every process of every replica.

The count of a key's window (one second) is kept in Redis, ``ratelimit:<key hash>:<second>``, but a process
does not ask Redis for every request: it takes a lease of ``lease`` requests at a time (one ``INCRBY``) and
admits from it until it is used up. A lease is granted only within the limit, so no more than the limit is
ever admitted in a window, over all processes; what a process leased and did not use in a window is lost to
the others, at most ``lease - 1`` requests per process. A key past its limit is refused by each process
without asking Redis again until the next window, so a client hammering the API costs Redis one command
per process and second. With a limit of 20 or less a lease is one request: every request is counted in
Redis as it comes. Redis away: nothing is limited (the limiter never takes the API down).
"""

from __future__ import annotations

import hashlib
import time

from redis.asyncio import Redis

LEASES_PER_WINDOW = 20
"""A lease is this fraction of the limit: a key at its full rate costs each process about this many Redis
commands per second."""
REFUSED = -1
"""What a process holds for a key whose window is used up."""


class RateLimiter:
    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.lease = max(1, per_second // LEASES_PER_WINDOW)
        self._window = 0
        self._held: dict[str, int] = {}
        """Per key hash, requests leased for the current window and not used yet (``REFUSED``: none left)."""

    async def refuses(self, redis: Redis, token: bytes) -> bool:
        """Whether the request of the key ``token`` goes over its rate; counts it when it does not."""
        window = int(time.time())
        if window != self._window:
            self._window, self._held = window, {}
        key = hashlib.sha256(token).hexdigest()[:24]
        held = self._held.get(key, 0)
        if held == REFUSED:
            return True
        if held == 0:
            try:
                granted = await self._take_lease(redis, key, window)
            except Exception:  # the limiter must never take the API down with Redis
                return False
            if window != self._window:  # the window turned while Redis answered: the lease was for the last one
                return granted == 0
            held = max(self._held.get(key, 0), 0) + granted  # another request's lease may have come meanwhile
            if held == 0:
                self._held[key] = REFUSED
                return True
        self._held[key] = held - 1
        return False

    async def _take_lease(self, redis: Redis, key: str, window: int) -> int:
        """Requests granted to this process out of the window's count: a lease, or what is left of the limit."""
        async with redis.pipeline(transaction=False) as pipe:
            pipe.incrby(f"ratelimit:{key}:{window}", self.lease)
            pipe.expire(f"ratelimit:{key}:{window}", 2)
            count, _ = await pipe.execute()
        return max(0, min(self.lease, self.per_second - (int(count) - self.lease)))

"""Per-provider rate limit: a token bucket shared by every lane of one channel.

Providers throttle (and some bill penalties) above a contracted rate; a bucket lets short bursts
through and then paces sends at the sustained rate. Waiters are served in arrival order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and a burst of at least 1")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    def try_take(self) -> float:
        """Take a token if there is one; otherwise return how long until there will be."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self._rate

    async def acquire(self) -> None:
        # The lock queues waiters fairly, so one lane cannot starve the others.
        async with self._lock:
            while (wait := self.try_take()) > 0:
                await asyncio.sleep(wait)

"""Token buckets that keep one citizen or one frontend from crowding out everybody else.

Buckets live in the process: each replica enforces the limit on its share of the traffic, which
is what a limit against floods needs, without a shared store on the hot path.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from casedesk_intake.domain.errors import RateLimited


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("a rate needs a positive refill and a burst of at least one")


class TokenBucket:
    __slots__ = ("_rate", "_tokens", "_updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self._rate = rate
        self._tokens = rate.burst
        self._updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._rate.burst, self._tokens + elapsed * self._rate.per_second)
        self._updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until a token is available (0 when one is there now)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate.per_second

    def take(self) -> None:
        self._tokens -= 1


class RateLimiter:
    """One bucket per key, at most `max_keys` of them: the least recently used is dropped first
    (a dropped bucket comes back full, which only forgives a client that has been quiet)."""

    def __init__(self, scope: str, rate: Rate, max_keys: int = 100_000) -> None:
        self.scope = scope
        self._rate = rate
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def bucket(self, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        return bucket


def admit(now: float, *checks: tuple[RateLimiter, str]) -> None:
    """Take a token from every bucket, or from none: a refused request costs nothing."""
    buckets = []
    for limiter, key in checks:
        bucket = limiter.bucket(key, now)
        wait = bucket.wait_time(now)
        if wait > 0:
            raise RateLimited(limiter.scope, wait)
        buckets.append(bucket)
    for bucket in buckets:
        bucket.take()

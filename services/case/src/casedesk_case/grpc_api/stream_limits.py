"""Bounds on the server streams one process serves: how many at once, and for how long.

Every open stream holds a feed subscription and costs a store read per change it is told of, and
a client that goes away without closing (a tab left open, a desk reconnecting in a loop) would
otherwise keep that forever. So each kind of stream is counted per process (`OpenStreams`: one
more is RESOURCE_EXHAUSTED, the desk retries later), and a WatchCase stream ends on its own
(`StreamLifetime`) after a while without anything to send, or at the latest after a maximum
lifetime. It then ends cleanly (status OK): the client watches again after the last version it
received (`WatchCaseRequest.after_version`) and misses nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc


@dataclass(frozen=True)
class WatchCaseLimits:
    """WatchCase's bounds (settings `watch_case_streams_max`, `watch_case_idle_s`,
    `watch_case_max_s`): streams served at once, seconds without an event before a stream ends,
    seconds a stream lasts at most."""

    max_streams: int = 500
    idle_s: float = 600.0
    max_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_streams < 1 or self.idle_s <= 0 or self.max_s <= 0:
            raise ValueError("WatchCase limits must be positive")


class OpenStreams:
    """The streams of one RPC this process serves now, up to `limit` (changed on the event loop
    only, so a plain counter)."""

    def __init__(self, rpc: str, what: str, limit: int) -> None:
        self.rpc, self.what, self.limit = rpc, what, limit
        self.open = 0

    @asynccontextmanager
    async def admitted(self, context: Any) -> AsyncIterator[None]:
        """Hold a place while the stream is served; RESOURCE_EXHAUSTED when none is free."""
        if self.open >= self.limit:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"the case service already serves {self.limit} {self.what} ({self.rpc}), "
                "its limit: retry later",
            )
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1


class StreamLifetime:
    """When a stream ends on its own: `idle_s` after it last sent something (or began), and at
    the latest `max_s` after it began."""

    def __init__(
        self, limits: WatchCaseLimits, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._idle = timedelta(seconds=limits.idle_s)
        self._now = now
        began = now()
        self._ends_at = began + timedelta(seconds=limits.max_s)
        self.deadline = min(began + self._idle, self._ends_at)

    def sent(self) -> None:
        """Something was sent: the idle time counts from now."""
        self.deadline = min(self._now() + self._idle, self._ends_at)

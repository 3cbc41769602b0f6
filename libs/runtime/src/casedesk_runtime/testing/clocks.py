"""A clock moved by hand, for the tests of anything that takes a `Callable[[], float]` clock
(time.monotonic, time.time): token buckets, caches with a TTL, sessions, collector pauses."""

from __future__ import annotations


class ManualClock:
    """Reads `now` until a test moves it (`advance`, or by setting `now`)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

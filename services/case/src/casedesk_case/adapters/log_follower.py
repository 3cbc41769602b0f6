"""Following the application's notification log (the relay, the case index, the WatchCase
feed): woken by local saves, polling for others'.

Saves made by this process ring the doorbell, so its followers react within milliseconds; saves
made by other replicas are found by polling every `idle_s` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# After a failing step (database or broker unavailable), wait this long before trying again.
_RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)


class Doorbell:
    """An asyncio.Event that may be rung from any thread, and closed to stop its follower."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def close(self) -> None:
        """Ask the follower to stop after its current step (call from the event loop)."""
        self.closed = True
        self._event.set()

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def ring(self) -> None:
        loop = self._loop
        # Already rung and not yet answered: the follower's next step starts after this save
        # was committed, so it will see it. Skipping saves a wake-up of the loop per save.
        if self._event.is_set() or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        if not self.closed:
            self._event.clear()

    async def wait(self, timeout: float) -> None:
        """Until rung or closed, at most `timeout` seconds."""
        if self._event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # unlike wait_for, no task per wait
                await self._event.wait()

    async def sleep(self, seconds: float) -> None:
        """Sleep through rings; only closing the bell ends the sleep early."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.closed and (left := deadline - loop.time()) > 0:
            await self.wait(left)
            self.clear()


async def follow(
    name: str,
    step: Callable[[], Awaitable[int]],
    bell: Doorbell,
    idle_s: float,
    pace_s: float = 0.0,
    full_step: int = 0,
) -> None:
    """Run `step` (returns how much it did) until the bell is closed; rest when idle.

    Under a steady stream of saves every save rings the bell, and stepping at each ring would
    read and write a handful of events per step: the fixed cost of a step (its queries) would then
    dominate. After a step that did something, the follower therefore starts the next one no
    sooner than `pace_s` after this one started, so that it takes everything that arrived
    meanwhile (a step that took longer than the pace is followed at once: pacing must not add to
    the latency of a busy follower); a step that did `full_step` or more (a backlog) is followed
    at once. The first save after a quiet spell is still followed within milliseconds.

    Stopping by closing the bell, not by cancelling, lets a step that runs in a worker thread
    finish before the database it uses is closed.
    """
    bell.bind()
    loop = asyncio.get_running_loop()
    failures = 0
    while not bell.closed:
        bell.clear()  # before the step: a ring during the step means "look again"
        started = loop.time()
        try:
            done = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            delay = _RETRY_S[min(failures, len(_RETRY_S) - 1)]
            failures += 1
            log.exception("%s failed; retrying in %.1f s", name, delay)
            await bell.sleep(delay)
            continue
        failures = 0
        if not done:
            await bell.wait(idle_s)
        elif pace_s and not (full_step and done >= full_step):
            # Rings meanwhile leave the bell set: step again after the pause.
            await asyncio.sleep(max(0.0, pace_s - (loop.time() - started)))

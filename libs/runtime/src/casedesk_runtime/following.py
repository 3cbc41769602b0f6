"""Followers of an outbox, a journal or a log: woken by local writes, polling for the others.

Every relay of the system is the same loop: take a step (publish what is pending), rest until
something new is written or the idle interval passes, back off after a failing step, and stop
after the current step when asked. `follow()` is that loop; a `Doorbell` wakes and stops it.

Writes made by this process ring the doorbell, so its follower reacts within milliseconds; writes
made elsewhere (other replicas, other processes) are found by polling every `idle_s` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# After a failing step (database or broker unavailable), wait this long before trying again.
RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)
# While a follower keeps failing, a summary line at most this often.
REPORT_EVERY_S = 60.0


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
        """Remember the running loop, so that `ring` works from other threads."""
        self._loop = asyncio.get_running_loop()

    def ring(self) -> None:
        loop = self._loop
        # Already rung and not yet answered: the follower's next step starts after this write
        # was committed, so it will see it. Skipping saves a wake-up of the loop per write.
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

    Under a steady stream of writes every write rings the bell, and stepping at each ring would
    read and write a handful of entries per step: the fixed cost of a step (its queries) would
    then dominate. After a step that did something, the follower therefore starts the next one no
    sooner than `pace_s` after this one started, so that it takes everything that arrived
    meanwhile (a step that took longer than the pace is followed at once: pacing must not add to
    the latency of a busy follower); a step that did `full_step` or more (a backlog) is followed
    at once. The first write after a quiet spell is still followed within milliseconds.

    A step that raises is tried again after a backoff (`RETRY_S`); the log says when the failures
    start (with the traceback), once a minute while they last, and when they end.

    Stopping by closing the bell, not by cancelling, lets a step that runs in a worker thread
    finish before the database it uses is closed.
    """
    bell.bind()
    loop = asyncio.get_running_loop()
    failing: _Failing | None = None
    while not bell.closed:
        bell.clear()  # before the step: a ring during the step means "look again"
        started = loop.time()
        try:
            done = await step()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            failing = _failed(name, failing, error)
            await bell.sleep(RETRY_S[min(failing.failures - 1, len(RETRY_S) - 1)])
            continue
        if failing is not None:
            _recovered(name, failing)
            failing = None
        if not done:
            await bell.wait(idle_s)
        elif pace_s and not (full_step and done >= full_step):
            # Rings meanwhile leave the bell set: step again after the pause.
            await asyncio.sleep(max(0.0, pace_s - (loop.time() - started)))


@dataclass
class _Failing:
    """A streak of failing steps: counted, not logged one by one."""

    started: float
    reported_at: float
    failures: int = 1
    since_report: int = 0
    last_error: str = ""


def _failed(name: str, failing: _Failing | None, error: Exception) -> _Failing:
    now = time.monotonic()
    described = f"{type(error).__name__}: {error}"[:300]
    if failing is None:
        log.exception("%s failed; retrying with a backoff", name, extra={"follower": name})
        return _Failing(started=now, reported_at=now, last_error=described)
    failing.failures += 1
    failing.since_report += 1
    failing.last_error = described
    if now - failing.reported_at >= REPORT_EVERY_S:
        log.warning(
            "%s still failing after %.0f s: %d attempts failed in the last %.0f s",
            name, now - failing.started, failing.since_report, now - failing.reported_at,
            extra={"follower": name, "last_error": described},
        )  # fmt: skip
        failing.reported_at = now
        failing.since_report = 0
    return failing


def _recovered(name: str, failing: _Failing) -> None:
    log.warning(
        "%s recovered after %.1f s and %d failed attempts",
        name, time.monotonic() - failing.started, failing.failures,
        extra={"follower": name, "last_error": failing.last_error},
    )  # fmt: skip

"""The alarm timer: sleeps until the next alarm may fire, then lets the engine fire it.

It wakes early when told (the consumer added clocks or moved the watermark), so a clock started
with a four-second target is not missed behind a sleep computed for a two-hour one.
"""

from __future__ import annotations

import asyncio
import contextlib

from casedesk_sla.application.engine import SlaEngine
from casedesk_sla.application.ports import ClockSource


class AlarmTimer:
    def __init__(self, engine: SlaEngine, clock: ClockSource, max_sleep_s: float = 1.0) -> None:
        self._engine = engine
        self._clock = clock
        self._max_sleep_s = max_sleep_s
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            self._engine.tick()
            await self._sleep(self.next_sleep_s())

    def next_sleep_s(self) -> float:
        """How long the timer sleeps unless woken, given the alarms and watermark right now."""
        next_at = self._engine.next_alarm_at()
        now = self._clock.now()
        safe = self._engine.safe_time()
        if next_at is None or safe is None or safe < now:
            # Nothing scheduled, or a partition is still behind: the consumer's progress (not the
            # wall clock) decides what fires next, and it wakes us.
            return self._max_sleep_s
        # Alarms fire strictly before the watermark, hence the extra microsecond.
        return min(max(next_at + 1 - now, 0) / 1_000_000, self._max_sleep_s)

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), seconds)

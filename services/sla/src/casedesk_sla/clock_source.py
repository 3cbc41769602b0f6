"""Where "now" comes from: the system clock in the service, a hand-moved clock in tests."""

from __future__ import annotations

import time
from typing import Protocol

from casedesk_sla.domain import Micros


class ClockSource(Protocol):
    def now(self) -> Micros: ...


class SystemClock:
    def now(self) -> Micros:
        return time.time_ns() // 1_000


class ManualClock:
    def __init__(self, start: Micros = 0) -> None:
        self._now = start

    def now(self) -> Micros:
        return self._now

    def set(self, moment: Micros) -> None:
        if moment < self._now:
            raise ValueError("a manual clock never goes back")
        self._now = moment

    def advance(self, micros: Micros) -> None:
        self.set(self._now + micros)

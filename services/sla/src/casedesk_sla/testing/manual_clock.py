"""A clock moved by hand: tests decide when time passes."""

from __future__ import annotations

from casedesk_sla.domain import Micros


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

"""Progress of a long replay on the terminal: a bar with done/planned, rates and ETA (rich).

Progress is measured in the sources' positions (Kafka records, store notification ids, file
bytes), which is what the ETA can be computed from; events applied are shown beside it.
"""

from __future__ import annotations

import time
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class ReplayProgress(Protocol):
    def start(self, planned: int, unit: str) -> None: ...

    def advance(self, positions: int, events: int) -> None: ...

    def stop(self) -> None: ...


class SilentProgress:
    """No output (scripts, tests, benchmarks); still counts, for the summary line."""

    def __init__(self) -> None:
        self.events = 0
        self.positions = 0

    def start(self, planned: int, unit: str) -> None:
        pass

    def advance(self, positions: int, events: int) -> None:
        self.positions += positions
        self.events += events

    def stop(self) -> None:
        pass


class _EventRate(ProgressColumn):
    """Events applied and their average rate since the start (the bar's own rate is positions)."""

    def render(self, task: Task) -> Text:
        events = int(task.fields.get("events", 0))
        elapsed = task.elapsed or 0.0
        rate = events / elapsed if elapsed > 0 else 0.0
        return Text(f"{events:,} events {rate:,.0f}/s", style="progress.data.speed")


class _PositionRate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.speed
        unit = task.fields.get("unit", "")
        return Text(f"{speed or 0:,.0f} {unit}/s", style="progress.data.speed")


class RichProgress:
    def __init__(self, console: Console | None = None, refresh_s: float = 0.2) -> None:
        self._progress = Progress(
            TextColumn("[bold]replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            _PositionRate(),
            _EventRate(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: TaskID | None = None
        self._events = 0
        self._refresh_s = refresh_s
        self._last_refresh = 0.0

    def start(self, planned: int, unit: str) -> None:
        self._progress.start()
        self._task = self._progress.add_task("replay", total=planned, unit=unit, events=0)

    def advance(self, positions: int, events: int) -> None:
        assert self._task is not None
        self._events += events
        self._progress.update(self._task, advance=positions, events=self._events)
        now = time.monotonic()
        if now - self._last_refresh >= self._refresh_s:
            self._last_refresh = now
            self._progress.refresh()

    def stop(self) -> None:
        if self._task is not None:
            self._progress.refresh()
        self._progress.stop()

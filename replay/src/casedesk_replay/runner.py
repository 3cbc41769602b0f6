"""Driving a replay: sources -> projections, with progress and checkpoints.

The loop is the only place that sees both sides. A batch is applied to the state synchronously,
and only then is its position recorded, so cancelling the replay (Ctrl-C) or a failing source
between two batches leaves a consistent (positions, state) pair for the checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from casedesk_replay.checkpoint import Checkpoint, CheckpointFile
from casedesk_replay.progress import ReplayProgress
from casedesk_replay.sources import Source
from casedesk_replay.topics import Stream
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class Fold(Protocol):
    """What the runner feeds: `ReplayState`, or a narrower fold such as one case's timeline."""

    def apply(self, stream: Stream, events: Sequence[Any]) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ReplayResult:
    events: int  # events applied by this run (not counting those restored from a checkpoint)
    seconds: float
    resumed: bool


class Replay:
    def __init__(
        self,
        sources: Sequence[Source],
        state: Fold,
        progress: ReplayProgress,
        checkpoint: CheckpointFile | None = None,
        fingerprint: dict[str, str] | None = None,
        checkpoint_every_s: float = 30.0,
    ) -> None:
        self._sources = sources
        self._state = state
        self._progress = progress
        self._checkpoint = checkpoint
        self._fingerprint = fingerprint or {}
        self._every_s = checkpoint_every_s
        units = {source.unit for source in sources}
        self._unit = units.pop() if len(units) == 1 else "positions"
        self._positions: dict[str, dict[str, int]] = {}

    async def run(self) -> ReplayResult:
        resumed = self._restore()
        started = time.perf_counter()
        events = 0
        try:
            planned = 0
            for source in self._sources:
                planned += await source.open(self._positions.get(source.name, {}))
            self._progress.start(planned, self._unit)
            next_save = time.monotonic() + self._every_s
            apply = self._state.apply
            for source in self._sources:
                positions = self._positions.setdefault(source.name, {})
                async for batch in source.batches():
                    if batch.events:
                        apply(batch.stream, batch.events)
                    positions[batch.part] = batch.position
                    events += len(batch.events)
                    self._progress.advance(batch.advanced, len(batch.events))
                    if self._checkpoint is not None and time.monotonic() >= next_save:
                        self._save(complete=False)
                        next_save = time.monotonic() + self._every_s
        except BaseException:
            # Interrupted (Ctrl-C cancels the task between batches) or a source failed: keep
            # what was applied so the next run resumes here.
            self._save_after_failure()
            raise
        finally:
            self._progress.stop()
            for source in self._sources:
                await source.close()
        self._save(complete=True)
        return ReplayResult(events, time.perf_counter() - started, resumed)

    def _restore(self) -> bool:
        if self._checkpoint is None:
            return False
        checkpoint = self._checkpoint.load(self._fingerprint)
        if checkpoint is None:
            return False
        self._state.restore(checkpoint.state)
        self._positions = checkpoint.positions
        return True

    def _save_after_failure(self) -> None:
        try:
            self._save(complete=False)
        except Exception:  # the replay's own error is the one to report
            log.exception("could not save the checkpoint after the replay stopped")

    def _save(self, complete: bool) -> None:
        if self._checkpoint is None:
            return
        self._checkpoint.save(
            Checkpoint(self._fingerprint, self._positions, self._state.snapshot(), complete)
        )

"""Where replayed events come from: adapters behind one small interface.

A source is opened at the positions a checkpoint remembered (or at the beginning of its range),
says how much it plans to read so progress can show an ETA, and yields batches of decoded events
of one stream each. `position` of a batch is where the next read of its `part` starts, so a
checkpoint taken between batches resumes exactly after the last applied batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from casedesk_replay.topics import Stream

Positions = dict[str, int]  # part (e.g. "case.events.v1/3") -> next position to read


@dataclass(frozen=True)
class Batch:
    stream: Stream
    events: Sequence[Any]
    part: str
    position: int
    advanced: int  # positions consumed by this batch, for progress (records, ids or bytes)


@dataclass(frozen=True)
class TimeRange:
    """Half-open [since, until) on the time each source knows a record by; None: unbounded."""

    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> str:
        since = self.since.isoformat() if self.since else "the beginning"
        until = self.until.isoformat() if self.until else "the end"
        return f"from {since} to {until}"


EVERYTHING = TimeRange()


class Source(Protocol):
    name: str  # key of this source's positions in a checkpoint
    unit: str  # what its positions count, for the progress bar

    async def open(self, resume: Mapping[str, int]) -> int:
        """Prepare to read from `resume` (or the range start); return the positions planned."""
        ...

    def batches(self) -> AsyncIterator[Batch]: ...

    async def close(self) -> None: ...


class SourceError(RuntimeError):
    """A source cannot be read (unreachable broker, missing topic, undecodable record, ...)."""

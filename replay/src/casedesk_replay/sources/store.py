"""Reading case events from the case service's event store, for history Kafka no longer has.

The store is read through the case service's public read-only entry point,
`casedesk_case.export.CaseStoreReader`: the service's own mapping turns each stored event into the
`CaseEvent` the outbox relay publishes, so both sources yield identical envelopes. The database is
chosen by the library's variables (PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*, optionally
prefixed CASES_), exactly as for the case service; tables are never created here. Positions are
notification ids; the time range applies to the events' occurred-at.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any
from uuid import UUID

from eventsourcing.utils import EnvType

from casedesk_case.export import CaseStoreReader
from casedesk_replay.sources import EVERYTHING, Batch, SourceError, TimeRange
from casedesk_replay.topics import Stream
from casedesk_replay.wire import micros, to_micros

__all__ = ["CaseStoreReader", "EventStoreSource", "find_case_by_number"]

_PART = "notifications"


class EventStoreSource:
    name = "store"
    unit = "notifications"

    def __init__(
        self,
        env: EnvType | None = None,
        time_range: TimeRange = EVERYTHING,
        case_id: UUID | None = None,
        batch_size: int = 2_000,
    ) -> None:
        """`case_id`: read only that case's events (its own stream, not the whole log)."""
        self._env = env
        self._since = to_micros(time_range.since) if time_range.since else None
        self._until = to_micros(time_range.until) if time_range.until else None
        self._case_id = case_id
        self._batch_size = batch_size
        self._reader: CaseStoreReader | None = None
        self._position = 0
        self._last = 0

    async def open(self, resume: Mapping[str, int]) -> int:
        try:
            self._reader = await asyncio.to_thread(CaseStoreReader, self._env)
            self._last = await asyncio.to_thread(self._reader.last_notification_id)
        except Exception as error:  # the drivers' errors share no base class
            raise SourceError(f"cannot open the case event store: {error}") from error
        self._position = resume.get(_PART, 0)
        return max(self._last - self._position, 0)

    async def batches(self) -> AsyncIterator[Batch]:
        reader = self._reader
        assert reader is not None, "open() first"
        if self._case_id is not None:
            events = await asyncio.to_thread(reader.events_of, self._case_id)
            yield Batch(Stream.CASE, self._in_range(events), _PART, self._last, self._last)
            return
        while self._position < self._last:
            events, last_id = await asyncio.to_thread(
                reader.case_events, self._position, self._last, self._batch_size
            )
            if last_id is None:  # only other records (number counters, receipts) remain
                last_id = self._last
            before, self._position = self._position, min(last_id, self._last)
            yield Batch(Stream.CASE, self._in_range(events), _PART, self._position,
                        self._position - before)  # fmt: skip

    def _in_range(self, events: list[Any]) -> list[Any]:
        if self._since is None and self._until is None:
            return events
        since = self._since if self._since is not None else -(2**63)
        until = self._until if self._until is not None else 2**63
        return [e for e in events if since <= (micros(e.meta.occurred_at) or 0) < until]

    async def close(self) -> None:
        if self._reader is not None:
            await asyncio.to_thread(self._reader.close)
            self._reader = None


def find_case_by_number(number: str, env: EnvType | None = None) -> str | None:
    """Look a case number up in the event store (one read, not a scan)."""
    try:
        reader = CaseStoreReader(env)
    except Exception as error:  # the drivers' errors share no base class
        raise SourceError(f"cannot open the case event store: {error}") from error
    try:
        return reader.case_id_of(number)
    finally:
        reader.close()

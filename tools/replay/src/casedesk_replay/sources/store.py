"""Reading case events from the case service's event store, for history Kafka no longer has.

The store is read through the `eventsourcing` library with the case service's own mapping: its
transcodings decode the stored events and `casedesk_case.wire.events.to_case_event` turns each
into the `CaseEvent` the outbox relay publishes, so both sources yield identical envelopes. The
database is chosen by the library's variables (PERSISTENCE_MODULE, SQLITE_DBNAME, POSTGRES_*,
optionally prefixed CASES_), exactly as for the case service; tables are never created here.
Positions are notification ids; the time range applies to the events' occurred-at.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import EnvType

from casedesk_case.application import CaseApplication
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.domain.numbers import claim_id_for
from casedesk_case.transcodings import register_domain_transcodings
from casedesk_case.wire.events import to_case_event
from casedesk_replay.sources import EVERYTHING, Batch, SourceError, TimeRange
from casedesk_replay.topics import Stream
from casedesk_replay.wire import micros, to_micros

_PART = "notifications"


class CaseStoreReader(Application):
    """Read-only access to the case service's stored events (same name, so same variables)."""

    name = CaseApplication.name
    env: ClassVar[dict[str, str]] = {"CREATE_TABLE": "no"}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def case_events(self, start: int, stop: int, limit: int) -> tuple[list[Any], int | None]:
        """Up to `limit` case events after notification `start` up to `stop`, and the last id."""
        notifications = self.recorder.select_notifications(
            start, limit, stop, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )
        events = [to_case_event(self.mapper.to_domain_event(n)) for n in notifications]
        return events, notifications[-1].id if notifications else None

    def last_notification_id(self) -> int:
        return self.recorder.max_notification_id() or 0

    def case_id_of(self, number: str) -> str | None:
        """The id of the case registered with `number` (its number claim), if any."""
        try:
            claim: Any = self.repository.get(claim_id_for(number))
        except AggregateNotFoundError:
            return None
        return str(claim.case_id)

    def events_of(self, case_id: UUID) -> list[Any]:
        return [
            to_case_event(self.mapper.to_domain_event(stored))
            for stored in self.recorder.select_events(case_id)
        ]


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

"""The case service's store, read only: the one entry point for tools outside the service.

`CaseStoreReader` opens the case service's event store with the service's own names and mapping,
so what it yields is exactly what the outbox relay publishes: `CaseEvent` envelopes
(casedesk.case.v1). The database is chosen by eventsourcing's variables (PERSISTENCE_MODULE,
SQLITE_DBNAME, POSTGRES_*, optionally prefixed CASES_), exactly as for the service; tables are
never created and nothing is written. Positions are notification ids of the store's log.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder

from casedesk.case.v1 import events_pb2
from casedesk_case.adapters.persistence.transcodings import register_domain_transcodings
from casedesk_case.application import CaseApplication
from casedesk_case.application.positions import outbox_tracking_name
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.domain.numbers import claim_id_for
from casedesk_case.wire.events import to_case_event

__all__ = ["CaseStoreReader"]

_COUNT_PAGE = 10_000


class CaseStoreReader(Application):
    """Read-only access to the case service's stored events (same name, so same variables)."""

    name = CaseApplication.name
    env: ClassVar[dict[str, str]] = {"CREATE_TABLE": "no"}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def case_events(
        self, start: int, stop: int | None, limit: int
    ) -> tuple[list[events_pb2.CaseEvent], int | None]:
        """Up to `limit` case events after notification `start` up to `stop` (None: no end),
        and the notification id of the last one (None when there was none)."""
        notifications = self.recorder.select_notifications(
            start, limit, stop, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )
        events = [to_case_event(self.mapper.to_domain_event(n)) for n in notifications]
        return events, notifications[-1].id if notifications else None

    def last_notification_id(self) -> int:
        """The newest record of the log (case events, number counters, receipts alike)."""
        return self.recorder.max_notification_id() or 0

    def case_id_of(self, number: str) -> str | None:
        """The id of the case registered with `number` (its number claim), if any."""
        try:
            claim: Any = self.repository.get(claim_id_for(number))
        except AggregateNotFoundError:
            return None
        return str(claim.case_id)

    def events_of(self, case_id: UUID) -> list[events_pb2.CaseEvent]:
        """Every event of one case, oldest first (its own stream, not the whole log)."""
        return [
            to_case_event(self.mapper.to_domain_event(stored))
            for stored in self.recorder.select_events(case_id)
        ]

    def outbox_position(self, topic: str) -> int:
        """The notification id up to which the outbox relay has published to `topic`."""
        positions = self.factory.tracking_recorder()
        return positions.max_tracking_id(outbox_tracking_name(self.name, topic)) or 0

    def count_case_events_after(self, start: int, at_most: int) -> tuple[int, float | None]:
        """How many case events follow notification `start` (counting stops at `at_most` or
        just past it), and when the first of them occurred (seconds since the epoch)."""
        count, oldest = 0, None
        while count < at_most:
            page = self.recorder.select_notifications(
                start, _COUNT_PAGE, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
            )
            if not page:
                break
            if oldest is None:
                first: Any = self.mapper.to_domain_event(page[0])  # a case event: timestamped
                oldest = first.timestamp.timestamp()
            count += len(page)
            start = page[-1].id
        return count, oldest

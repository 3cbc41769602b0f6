"""The outbox relay: publishes stored SLA events to sla.events.v1, then deletes them.

Rows are deleted only once the broker acknowledged every one of them. A crash between the
acknowledgement and the delete re-publishes those rows after the restart with the same event ids,
which consumers of sla.events.v1 deduplicate; nothing is lost. A broker outage of any length is
waited out by the `Publisher` (fresh producers, one log line a minute), the rows stay meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from casedesk_runtime.publishing import OutgoingRecord, Publisher
from casedesk_sla.adapters.store import OutboxRow, SqliteClockStore


class OutboxRelay:
    def __init__(
        self,
        store: SqliteClockStore,
        publisher: Publisher,
        topic: str,
        batch_size: int = 500,
        idle_s: float = 1.0,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        """End `run` after the batch under way (whose delivery `Publisher.close` abandons)."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping and not self._publisher.closed:
            # Cleared before looking, so a wake-up that arrives while we look is not lost.
            self._wakeup.clear()
            published = await self.publish_pending()
            if not published:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._idle_s)

    async def publish_pending(self) -> int:
        """Publish one batch of the outbox; returns how many rows were published.

        Waits out a broker outage; 0 when the publisher was closed meanwhile (the rows stay).
        """
        rows = self._store.pending(self._batch_size)
        if not rows:
            return 0
        # One delivery in outbox order: the idempotent producer keeps the per-case order.
        records = [self._record(row) for row in rows]
        if not await self._publisher.deliver(records, waiting_at=self._waiting_at(rows[0])):
            return 0
        self._store.mark_published(rows[-1].seq)
        return len(rows)

    async def drain(self) -> None:
        """Publish until the outbox is empty (or the publisher is closed)."""
        while await self.publish_pending():
            pass

    def _record(self, row: OutboxRow) -> OutgoingRecord:
        headers = [("event-type", row.event_type.encode()), ("event-id", row.event_id.encode())]
        if row.traceparent:
            headers.append(("traceparent", row.traceparent.encode()))
        return OutgoingRecord(self._topic, row.payload, row.case_id.encode(), tuple(headers))

    def _waiting_at(self, first: OutboxRow) -> Callable[[], Mapping[str, Any]]:
        def where() -> Mapping[str, Any]:
            return {"outbox_seq": first.seq, "outbox_rows": self._store.outbox_size()}

        return where

"""The outbox relay: publishes stored SLA events to sla.events.v1, then deletes them.

Rows are deleted only once the broker acknowledged every one of them. A crash between the
acknowledgement and the delete re-publishes those rows after the restart with the same event ids,
which consumers of sla.events.v1 deduplicate; nothing is lost. A broker outage of any length is
waited out by the `Publisher` (fresh producers, one log line a minute), the rows stay meanwhile.
The loop is the runtime's `follow()`: woken by the engine when it adds rows, polling every
`idle_s`, trying a failing batch (a store error) again after a backoff instead of ending.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from casedesk_runtime.following import Doorbell, follow
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
        self._bell = Doorbell()

    def wake(self) -> None:
        """New rows are in the outbox: publish them without waiting for the next poll."""
        self._bell.ring()

    def stop(self) -> None:
        """End `run` after the batch under way (whose delivery `Publisher.close` abandons)."""
        self._bell.close()

    async def run(self) -> None:
        """Publish until stopped or the publisher is closed; a failing batch is tried again."""
        await follow(
            "sla outbox relay", self._step, self._bell, self._idle_s, full_step=self._batch_size
        )

    async def _step(self) -> int:
        published = await self.publish_pending()
        if self._publisher.closed:
            self._bell.close()  # abandoned by the shutdown: the rows wait for the next run
        return published

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

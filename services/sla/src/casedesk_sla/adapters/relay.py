"""The outbox relay: publishes stored SLA events to sla.events.v1, then deletes them.

A crash between the broker's acknowledgement and the delete re-publishes those rows after the
restart with the same event ids, which consumers of sla.events.v1 deduplicate; nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from casedesk_runtime.logs import get_logger
from casedesk_sla.adapters.store import OutboxRow, SqliteClockStore

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        store: SqliteClockStore,
        producer: AIOKafkaProducer,
        topic: str,
        batch_size: int = 500,
        idle_s: float = 1.0,
        retry_s: float = 1.0,
    ) -> None:
        self._store = store
        self._producer = producer
        self._topic = topic
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._retry_s = retry_s
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            # Cleared before looking, so a wake-up that arrives while we look is not lost.
            self._wakeup.clear()
            try:
                published = await self.publish_pending()
            except KafkaError as error:
                log.warning("publishing SLA events failed; retrying", extra={"error": str(error)})
                await asyncio.sleep(self._retry_s)
                continue
            if not published:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._idle_s)

    async def publish_pending(self) -> int:
        """Publish one batch of the outbox; returns how many rows were published."""
        rows = self._store.pending(self._batch_size)
        if not rows:
            return 0
        # Enqueue the whole batch, then wait: the idempotent producer keeps the per-case order.
        deliveries = [await self._send(row) for row in rows]
        await asyncio.gather(*deliveries)
        self._store.mark_published(rows[-1].seq)
        return len(rows)

    async def drain(self) -> None:
        while await self.publish_pending():
            pass

    async def _send(self, row: OutboxRow) -> asyncio.Future[object]:
        headers = [("event-type", row.event_type.encode()), ("event-id", row.event_id.encode())]
        if row.traceparent:
            headers.append(("traceparent", row.traceparent.encode()))
        return await self._producer.send(
            self._topic, value=row.payload, key=row.case_id.encode(), headers=headers
        )

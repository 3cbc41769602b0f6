"""Publishes the journal outbox to notification.events.v1, in order, at least once.

Entries are deleted only after Kafka acknowledged them (acks=all, idempotent producer), so a crash
re-publishes at most the last unacknowledged batch, with the same event ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from casedesk_notify.store import DeliveryStore

log = logging.getLogger(__name__)


class JournalRelay:
    def __init__(
        self,
        store: DeliveryStore,
        producer: Any,
        topic: str,
        batch_size: int = 500,
        idle_poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._producer = producer
        self._topic = topic
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """New entries are in the outbox: publish them without waiting for the next poll."""
        self._wakeup.set()

    async def publish_pending(self) -> int:
        """Publish everything in the outbox now; return how many entries went out."""
        total = 0
        while batch := self._store.journal_batch(self._batch_size):
            futures = [
                await self._producer.send(
                    self._topic, value=entry.value, key=entry.key, headers=list(entry.headers)
                )
                for _, entry in batch
            ]
            await asyncio.gather(*futures)
            self._store.drop_journal([seq for seq, _ in batch])
            total += len(batch)
        return total

    async def run(self) -> None:
        """Publish until `stop()`; the last round flushes what the final deliveries wrote."""
        backoff = 0.5
        while True:
            stopping = self._stopping
            try:
                await self.publish_pending()
                backoff = 0.5
            except Exception:  # Kafka unavailable: the outbox keeps the entries meanwhile
                if stopping:
                    log.warning("journal not fully flushed at shutdown; published on restart")
                    return
                log.exception("journal publish failed; retrying", extra={"retry_in_s": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            if stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._idle_poll_s)
            self._wakeup.clear()

    def stop(self) -> None:
        """Ask `run` to do a last flush and return."""
        self._stopping = True
        self._wakeup.set()

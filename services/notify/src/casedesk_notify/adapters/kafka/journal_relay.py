"""Publishes the journal outbox to notification.events.v1, in order, at least once.

Entries are deleted only after Kafka acknowledged them, so a crash re-publishes at most the last
unacknowledged batch, with the same event ids. Deliveries go through a `Publisher`: a broker
outage of any length is waited out with fresh producers (logged when it starts, once a minute and
when it ends), the entries staying in the outbox meanwhile. The loop is the runtime's `follow()`:
woken when the dispatcher writes entries, polling every `idle_poll_s`, trying a failing round (a
store error) again after a backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from casedesk_notify.adapters.store import DeliveryStore
from casedesk_runtime.following import Doorbell, follow
from casedesk_runtime.publishing import OutgoingRecord, Publisher

log = logging.getLogger(__name__)


class JournalRelay:
    def __init__(
        self,
        store: DeliveryStore,
        publisher: Publisher,
        topic: str,
        batch_size: int = 500,
        idle_poll_s: float = 1.0,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._bell = Doorbell()

    def wake(self) -> None:
        """New entries are in the outbox: publish them without waiting for the next poll."""
        self._bell.ring()

    async def publish_pending(self) -> int:
        """Publish everything in the outbox now; return how many entries went out.

        Waits out a broker outage; returns early, the rest kept, if the publisher is closed.
        """
        total = 0
        while batch := self._store.journal_batch(self._batch_size):
            records = [
                OutgoingRecord(self._topic, entry.value, entry.key, tuple(entry.headers))
                for _, entry in batch
            ]
            if not await self._publisher.deliver(records, self._waiting_at(batch[0][0])):
                break
            self._store.drop_journal([seq for seq, _ in batch])
            total += len(batch)
        return total

    async def run(self) -> None:
        """Publish until `stop()`; the last round flushes what the final deliveries wrote.

        Closing the publisher (shutdown while Kafka is away) ends it at once, the rest unpublished.
        """
        await follow("notify journal relay", self._step, self._bell, self._idle_poll_s)
        if not self._publisher.closed:
            # Begun after stop(): it takes what the lanes' last deliveries wrote, woken or not.
            await self.publish_pending()
        if self._publisher.closed:
            backlog = self._store.journal_backlog()
            if backlog:
                log.warning(
                    "journal not fully flushed at shutdown; published on restart",
                    extra={"journal_backlog": backlog},
                )

    def stop(self) -> None:
        """Ask `run` to finish the round under way, do a last flush and return."""
        self._bell.close()

    async def _step(self) -> int:
        published = await self.publish_pending()
        if self._publisher.closed:
            self._bell.close()  # abandoned by the shutdown: the entries wait for the next run
        return published

    def _waiting_at(self, first_seq: int) -> Callable[[], Mapping[str, Any]]:
        """For the outage log lines: where the journal waits and how much is behind it."""

        def where() -> Mapping[str, Any]:
            return {"journal_seq": first_seq, "journal_backlog": self._store.journal_backlog()}

        return where

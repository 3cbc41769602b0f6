"""The consumer loop over case.events.v1 (raw aiokafka, offsets owned by the store).

The offsets that count are the ones committed in the store together with the deliveries they
caused (`BatchHandler`); on every partition assignment the consumer seeks there. Offsets are also
committed to Kafka, lazily and best-effort, only so that lag monitoring sees notify's progress.
A poll that finds nothing, every partition read to its end, is reported to the handler (a reply's
window waits for it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata

from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.ports import ParkingClosed

log = logging.getLogger(__name__)


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: AIOKafkaConsumer, handler: BatchHandler, topic: str) -> None:
        self._consumer = consumer
        self._handler = handler
        self._topic = topic

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to flush: every processed batch is already committed in the store."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        stored = self._handler.stored_offsets(self._topic)
        for partition in assigned:
            if partition.partition in stored:
                self._consumer.seek(partition, stored[partition.partition])
        log.info("partitions assigned", extra={"partitions": sorted(p.partition for p in assigned)})


class CaseEventConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        handler: BatchHandler,
        max_records: int = 500,
        max_backlog: int = 20_000,
        kafka_commit_interval_s: float = 5.0,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._handler = handler
        self._max_records = max_records
        self._max_backlog = max_backlog
        self._commit_interval_s = kafka_commit_interval_s
        self._stopping = asyncio.Event()
        self._uncommitted: dict[TopicPartition, int] = {}
        self._last_commit = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        self._consumer.subscribe(
            [self._topic], listener=_SeekToStoredOffsets(self._consumer, self._handler, self._topic)
        )
        try:
            while not self._stopping.is_set():
                self._apply_backpressure()
                fetched = await self._consumer.getmany(
                    timeout_ms=200, max_records=self._max_records
                )
                records = [record for batch in fetched.values() for record in batch]
                if records:
                    await self._process(records)
                elif await self._at_the_end():
                    self._handler.caught_up()
                await self._commit_to_kafka(force=False)
        except ParkingClosed:
            if not self.stopping:
                raise
            log.warning("stopped before a poisoned record was parked; its batch is read again")
        await self._commit_to_kafka(force=True)

    async def _process(self, records: list[Any]) -> None:
        offsets = await self._handler.handle(records)
        for (topic, partition), offset in offsets.items():
            self._uncommitted[TopicPartition(topic, partition)] = offset

    async def _at_the_end(self) -> bool:
        """Whether every assigned partition has been read to its end (as the last fetch saw it):
        what a reply's window waits for before its notice goes alone (see DeferredReplies). A
        paused consumer, or one with nothing assigned yet, has not read everything."""
        assigned = self._consumer.assignment()
        if not assigned or self._consumer.paused():
            return False
        try:
            for partition in assigned:
                end = self._consumer.highwater(partition)
                if end is None or await self._consumer.position(partition) < end:
                    return False
        except IllegalStateError:  # revoked meanwhile: the next poll asks again
            return False
        return True

    def _apply_backpressure(self) -> None:
        """Stop fetching while the dispatcher is far behind (a provider outage), keep polling."""
        assigned = self._consumer.assignment()
        if self._handler.backlog > self._max_backlog:
            self._consumer.pause(*assigned)
        elif self._consumer.paused():
            self._consumer.resume(*assigned)

    async def _commit_to_kafka(self, force: bool) -> None:
        due = time.monotonic() - self._last_commit >= self._commit_interval_s
        if not self._uncommitted or not (force or due):
            return
        assigned = self._consumer.assignment()
        offsets = {
            partition: OffsetAndMetadata(offset, "")
            for partition, offset in self._uncommitted.items()
            if partition in assigned
        }
        self._uncommitted.clear()
        self._last_commit = time.monotonic()
        try:
            if offsets:
                await self._consumer.commit(offsets)
        except KafkaError as error:  # informational only: the store holds the real offsets
            log.warning("Kafka offset commit failed", extra={"error": str(error)})

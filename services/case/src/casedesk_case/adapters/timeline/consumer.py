"""Follows sla.events.v1 and notification.events.v1 into the case timeline.

A consumer group of its own (CASEDESK_CASE_TIMELINE_GROUP), shared by the case service's replicas:
each batch is recorded (facts and clocks, one transaction) before its offsets are committed, so a
crash loses nothing and the batch read again after it adds nothing (the store keeps each event id
once). A batch the database refused is kept and recorded again after a backoff, never skipped.

A record that is not a valid event of its topic is skipped, logged with where it was (never its
content) and counted (`casedesk.case.timeline.unreadable`): the two topics have no dead-letter
topic for the case service (casedesk_vocabulary.topics.CONSUMERS_WITH_DLQ), and one bad record
must not hold back every case behind it. A broker that is away, or a start that fails, is retried
with the runtime's backoff (`follow`): the timeline falls behind, the case service keeps serving.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import metrics

from casedesk_case.adapters.timeline.store import Entry, TimelineStore
from casedesk_case.wire.timeline_events import notification_fact, sla_fact
from casedesk_runtime.following import Doorbell, follow
from casedesk_runtime.kafka import stop_consumer
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)
# How long one poll waits for records: also how long a stop waits for the poll under way.
POLL_MS = 500


@dataclass(frozen=True)
class TimelineTopics:
    sla: str
    notification: str


@dataclass(frozen=True)
class _Batch:
    entries: list[Entry]
    offsets: dict[TopicPartition, int]  # the next offset to read, per partition
    records: int


class TimelineConsumer:
    def __init__(
        self,
        make_consumer: Callable[[], Any],
        store: TimelineStore,
        topics: TimelineTopics,
        batch_size: int = 500,
        poll_ms: int = POLL_MS,
    ) -> None:
        """`make_consumer` returns a new, unstarted AIOKafkaConsumer of the timeline's group."""
        self._make_consumer = make_consumer
        self._store = store
        self._topics = topics
        self._batch_size = batch_size
        self._poll_ms = poll_ms
        self._bell = Doorbell()
        self._consumer: Any = None
        self._pending: _Batch | None = None
        self.unreadable = 0
        meter = metrics.get_meter("casedesk.case.timeline")
        self._read_counter = meter.create_counter(
            "casedesk.case.timeline.records", unit="{record}",
            description="Records of sla.events.v1 and notification.events.v1 recorded",
        )  # fmt: skip
        self._unreadable_counter = meter.create_counter(
            "casedesk.case.timeline.unreadable", unit="{record}",
            description="Records skipped because they are not valid events of their topic",
        )  # fmt: skip

    async def run(self) -> None:
        """Record batches until `stop()`; the batch under way is finished first."""
        try:
            await follow("case timeline", self._step, self._bell, idle_s=0.0)
        finally:
            consumer, self._consumer = self._consumer, None
            if consumer is not None:
                await stop_consumer(consumer)

    def stop(self) -> None:
        self._bell.close()

    async def _step(self) -> int:
        if self._consumer is None:
            await self._start()
        if self._pending is None:
            fetched = await self._consumer.getmany(
                timeout_ms=self._poll_ms, max_records=self._batch_size
            )
            if not fetched:
                return 0
            self._pending = self._read(fetched)
        batch = self._pending
        # The database call runs in a thread; `follow` waits for it before the store is closed.
        await asyncio.to_thread(self._store.record, batch.entries)
        self._pending = None
        await self._commit(batch.offsets)
        self._read_counter.add(batch.records)
        return batch.records

    async def _start(self) -> None:
        consumer = self._make_consumer()
        try:
            await consumer.start()
            consumer.subscribe([self._topics.sla, self._topics.notification])
        except BaseException:
            await stop_consumer(consumer)
            raise
        self._consumer = consumer
        log.info("following", extra={"topics": [self._topics.sla, self._topics.notification]})

    def _read(self, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> _Batch:
        entries: list[Entry] = []
        offsets: dict[TopicPartition, int] = {}
        count = 0
        for tp, records in fetched.items():
            for record in records:
                count += 1
                try:
                    entry = self._entry(record)
                except Exception as error:  # one bad record must not stop every case behind it
                    self._skip(record, error)
                    continue
                if entry is not None:
                    entries.append(entry)
            offsets[tp] = records[-1].offset + 1
        return _Batch(entries, offsets, count)

    def _entry(self, record: ConsumerRecord) -> Entry | None:
        if record.topic == self._topics.sla:
            fact = sla_fact(record.value)
            return fact.event_id, fact
        if record.topic == self._topics.notification:
            return notification_fact(record.value, record.key)
        raise ValueError(f"a record of {record.topic}, which the timeline does not follow")

    def _skip(self, record: ConsumerRecord, error: Exception) -> None:
        self.unreadable += 1
        self._unreadable_counter.add(1, {"topic": record.topic})
        log.error(
            "unreadable record skipped by the case timeline",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error": f"{type(error).__name__}: {error}"[:300],
            },
        )

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await self._consumer.commit(offsets)
        except (KafkaError, AssertionError) as error:
            # A rebalance took the partitions, or the broker is away: the batch is recorded, and
            # whoever reads it again adds nothing.
            log.warning(
                "case timeline offsets not committed; the batch will be read again",
                extra={"error": f"{type(error).__name__}: {error}"[:300]},
            )

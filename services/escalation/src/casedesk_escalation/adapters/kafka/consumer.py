"""The consume-decide-commit loop over case.events.v1 and sla.events.v1.

Offsets live in the decision store, not in Kafka (partition_ownership.py); deciding a batch and
committing it is the application's (application/escalations.py). Dead letters (acknowledged
before the batch holding the poisoned record commits) and the journal go through one
`Publisher`, which waits out a broker outage of any length.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from casedesk_escalation.adapters.kafka.breach_wait import BreachWait
from casedesk_escalation.adapters.kafka.partition_ownership import PartitionOwnership
from casedesk_escalation.application.desk import Consumed
from casedesk_escalation.application.escalations import Escalations
from casedesk_escalation.application.records import Partition
from casedesk_escalation.wire import Topics, UndecodableRecord, read_record
from casedesk_runtime.logs import get_logger
from casedesk_runtime.publishing import Publisher, dead_letter

log = get_logger(__name__)
CONSUMER_NAME = "escalation"
# A record that is not a valid event of its topic, and why.
Poisoned = tuple[ConsumerRecord, str]


class PublishingAbandoned(RuntimeError):
    """The publisher was closed before Kafka acknowledged a dead letter: the batch is not stored."""


class EscalationConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        publisher: Publisher,
        escalations: Escalations,
        topics: Topics,
        batch_max: int,
        breach_wait_s: float,
    ) -> None:
        self._consumer = consumer
        self._publisher = publisher
        self._escalations = escalations
        self._topics = topics
        self._batch_max = batch_max
        self._wait = BreachWait(consumer, topics, breach_wait_s)
        self._ownership = PartitionOwnership(
            consumer, escalations.stored_offsets, topics, self._forget
        )
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        # Work a previous process committed but did not finish comes first.
        await self._escalations.carry_out_committed()
        self._consumer.subscribe(self._topics.consumed, listener=self._ownership)
        try:
            while not self._stopping.is_set():
                await self._step()
        except PublishingAbandoned:
            if not self._stopping.is_set():
                raise
            log.warning("stopped before a dead letter was acknowledged; its batch is read again")

    def stop(self) -> None:
        """Finish the batch under way, then return from `run`."""
        self._stopping.set()

    def abandon_publishing(self) -> None:
        """Stop waiting for Kafka (a shutdown during an outage): what is unpublished stays so."""
        self._publisher.close()

    def _forget(self) -> None:
        self._escalations.forget()
        self._wait.reset()

    async def _step(self) -> None:
        if self._ownership.failure is not None:
            raise self._ownership.failure
        if self._wait.waiting and not await self._wait.should_continue():
            self._consumer.resume(*self._assigned(self._topics.case))
        timeout_ms = 100 if self._wait.waiting else 500
        fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._batch_max)
        if not fetched:
            return
        # A batch applies breaches before case events, so a request consumed together with the
        # breach it depends on sees it.
        ordered = sorted(fetched.items(), key=lambda e: (e[0].topic != self._topics.sla, e[0]))
        items, poisoned = _decode(self._topics, [r for _, rs in ordered for r in rs])
        if not self._wait.waiting and await self._wait.should_start(items):
            items = self._hold_case_records(fetched, items)
        await self._process(items, poisoned)

    def _hold_case_records(
        self, fetched: dict[TopicPartition, list[ConsumerRecord]], items: list[Consumed]
    ) -> list[Consumed]:
        for tp, records in fetched.items():
            if tp.topic == self._topics.case:
                self._consumer.seek(tp, records[0].offset)
        self._consumer.pause(*self._assigned(self._topics.case))
        return [item for item in items if item.partition[0] == self._topics.sla]

    async def _process(self, items: list[Consumed], poisoned: list[Poisoned]) -> None:
        # Records of partitions held back by the breach wait are dead-lettered when they return.
        kept = {item.partition for item in items}
        for record, error in poisoned:
            if (record.topic, record.partition) in kept:
                await self._dead_letter(record, error)
        if not items:
            return
        batch = await self._escalations.decide_and_commit(items, self._ownership.stored)
        if batch is None:
            await self._ownership.seek_to_stored(self._consumer.assignment())
            return
        self._ownership.advanced(batch.offsets)
        await self._commit_to_kafka(batch.offsets)
        await self._escalations.carry_out_committed()

    async def _dead_letter(self, record: ConsumerRecord, error: str) -> None:
        if not await dead_letter(self._publisher, record.topic, CONSUMER_NAME, record, error):
            raise PublishingAbandoned(f"{record.topic}/{record.partition}@{record.offset}")

    async def _commit_to_kafka(self, offsets: dict[Partition, tuple[int | None, int]]) -> None:
        """Mirror the stored offsets to the group, for lag monitoring only (the store decides)."""
        try:
            await self._consumer.commit(
                {TopicPartition(t, p): new for (t, p), (_, new) in offsets.items()}
            )
        except (KafkaError, AssertionError) as error:
            log.debug("offset mirror to Kafka skipped: %s", error)

    def _assigned(self, topic: str) -> list[TopicPartition]:
        return [tp for tp in self._consumer.assignment() if tp.topic == topic]


def _decode(topics: Topics, records: list[ConsumerRecord]) -> tuple[list[Consumed], list[Poisoned]]:
    items: list[Consumed] = []
    poisoned: list[Poisoned] = []
    for record in records:
        try:
            observation = read_record(topics, record.topic, record.value)
        except UndecodableRecord as error:
            log.error(
                "undecodable record dead-lettered",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "error": str(error),
                },
            )
            observation = None
            poisoned.append((record, str(error)))
        items.append(
            Consumed(
                (record.topic, record.partition),
                record.offset,
                observation,
                tuple(record.headers or ()),
            )
        )
    return items, poisoned

"""Which partitions this process owns, and where it stands in each: the store says, not Kafka.

On every assignment the new partitions are paused before anything else (so nothing is fetched
from the group's committed offsets meanwhile), the stored offsets are read, the consumer seeks to
them (to the beginning where none is stored) and the partitions are resumed. Both topics must
have the same partition count: with the range assignor a process then owns the same partition
numbers of both, i.e. both streams of each of its cases.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from casedesk_escalation.application.records import Partition
from casedesk_escalation.wire import Topics
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class CoPartitioningError(RuntimeError):
    """The consumed topics are not partitioned alike, so a case's state would have two owners."""


class PartitionOwnership(ConsumerRebalanceListener):
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        stored_offsets: Callable[[], Awaitable[dict[Partition, int]]],
        topics: Topics,
        on_change: Callable[[], None],
    ) -> None:
        self._consumer = consumer
        # What the store holds for this consumer group.
        self._stored_offsets = stored_offsets
        self._topics = topics
        # Called on every change of ownership: cached per-case state may belong to others now.
        self._on_change = on_change
        # partition -> next offset as stored (None: nothing stored yet)
        self.stored: dict[Partition, int | None] = {}
        # aiokafka logs and swallows a listener's exception; the consumer loop raises this one.
        self.failure: Exception | None = None

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self._on_change()
        for tp in revoked:
            self.stored.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._consumer.pause(*assigned)  # before the first await
        self._on_change()
        try:
            check_co_partitioning(self._consumer, self._topics)
            await self.seek_to_stored(assigned)
        except Exception as error:
            self.failure = error
            return
        self._consumer.resume(*assigned)
        log.info(
            "partitions assigned",
            extra={"partitions": sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)},
        )

    async def seek_to_stored(self, partitions: Iterable[TopicPartition]) -> None:
        stored = await self._stored_offsets()
        for tp in partitions:
            offset = stored.get((tp.topic, tp.partition))
            self.stored[(tp.topic, tp.partition)] = offset
            if offset is None:
                await self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, offset)

    def advanced(self, offsets: dict[Partition, tuple[int | None, int]]) -> None:
        for partition, (_, next_offset) in offsets.items():
            self.stored[partition] = next_offset


def check_co_partitioning(consumer: AIOKafkaConsumer, topics: Topics) -> None:
    # A topic not created yet has no partitions to mismatch; it joins at the next rebalance.
    sizes = {
        topic: len(partitions)
        for topic in topics.consumed
        if (partitions := consumer.partitions_for_topic(topic))
    }
    if len(set(sizes.values())) > 1:
        raise CoPartitioningError(
            f"{' and '.join(topics.consumed)} must have the same number of partitions (found "
            f"{sizes}): a case's events and its SLA events have to be consumed by one process"
        )

"""Topics read back whole, record by record: nothing deduplicated, each record with its Kafka
timestamp (when the producer published it), so republished records and late ones show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from support.system import Kafka

from casedesk_runtime.topics import existing_partitions

E = TypeVar("E")


@dataclass(frozen=True)
class Rec(Generic[E]):
    partition: int
    offset: int
    published_at: float  # the record's timestamp, seconds since the epoch
    event: E


async def read_to_end(kafka: Kafka, topic: str, decode: Callable[[bytes], E]) -> list[Rec[E]]:
    """Every record of `topic` up to its end offsets as of now (no consumer group)."""
    numbers = (await existing_partitions([topic], **kafka.connection()))[topic]
    partitions = [TopicPartition(topic, number) for number in numbers]
    consumer = AIOKafkaConsumer(**kafka.connection(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Rec[E]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                records += [
                    Rec(r.partition, r.offset, r.timestamp / 1000, decode(r.value or b""))
                    for r in batch
                ]
        return records
    finally:
        await consumer.stop()


async def end_offsets(kafka: Kafka, topic: str) -> dict[int, int]:
    numbers = (await existing_partitions([topic], **kafka.connection()))[topic]
    partitions = [TopicPartition(topic, number) for number in numbers]
    consumer = AIOKafkaConsumer(**kafka.connection(), enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp.partition: end for tp, end in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()

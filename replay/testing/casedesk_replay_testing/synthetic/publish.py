"""Producing a synthetic scenario to Kafka, keyed by case id like the real producers.

Records are appended to per-partition batches (the producer's own partitioner picks the
partition from the key), which is far faster than one `send` per record for the tens of
thousands of events a benchmark or an integration test needs.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from casedesk_replay.topics import Stream, TopicMap
from casedesk_replay_testing.synthetic import Scenario
from casedesk_runtime.topics import TopicSpec, ensure_topics


async def publish(
    bootstrap: str, topics: TopicMap, scenario: Scenario, partitions: int = 6
) -> None:
    """Create the scenario's topics (if missing) and produce every event, acks=all."""
    await ensure_topics(bootstrap, tuple(TopicSpec(topics.topic(s), partitions) for s in Stream))
    producer = await _producer(bootstrap)
    try:
        for stream, events in scenario.streams().items():
            await _produce(producer, topics.topic(stream), events)
    finally:
        await producer.stop()


async def publish_events(
    bootstrap: str, topic: str, events: Sequence[Any], partitions: int = 6
) -> None:
    """Create `topic` (if missing) and produce `events` to it in their order, acks=all: a
    stream as a relay left it, holes and re-sends included, for tests of what a replay notices."""
    await ensure_topics(bootstrap, (TopicSpec(topic, partitions),))
    producer = await _producer(bootstrap)
    try:
        await _produce(producer, topic, events)
    finally:
        await producer.stop()


async def _producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    return producer


async def _produce(producer: AIOKafkaProducer, topic: str, events: Sequence[Any]) -> None:
    numbers = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
    partitioner = DefaultPartitioner()
    for event in events:
        key = event.meta.case_id.encode()
        by_partition[partitioner(key, numbers, numbers)].append((key, event.SerializeToString()))
    await asyncio.gather(
        *(_send(producer, topic, number, records) for number, records in by_partition.items())
    )


async def _send(producer: AIOKafkaProducer, topic: str, partition: int,
                records: list[tuple[bytes, bytes]]) -> None:  # fmt: skip
    # Batches keep the partition's order: each is acknowledged before the next is sent.
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:
            await (await producer.send_batch(batch, topic, partition=partition))
            batch = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    if batch.record_count():
        await (await producer.send_batch(batch, topic, partition=partition))

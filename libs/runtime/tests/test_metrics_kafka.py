"""Kafka series: each consumer's lag per partition, and the records parked on dead-letter topics."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import IllegalStateError, KafkaTimeoutError
from aiokafka.structs import TopicPartition

from casedesk_runtime.consumer_lag import ConsumerLag
from casedesk_runtime.kafka import MeasuredConsumer, measured_consumer
from casedesk_runtime.publishing import dead_letter
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.testing.kafka import FakeKafka
from casedesk_runtime.testing.metrics import scrape

LAG = "casedesk_kafka_consumer_lag"
TOPIC = "lag-test.v1"


@dataclass
class FakeConsumer:
    """What ConsumerLag asks of an aiokafka consumer: assignment, end offsets, positions."""

    ends: dict[TopicPartition, int]
    positions: dict[TopicPartition, int]
    broker_down: bool = False
    asked: list[list[TopicPartition]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.asked.append(partitions)
        if self.broker_down:
            raise KafkaTimeoutError()
        return {tp: self.ends[tp] for tp in partitions}

    async def position(self, partition: TopicPartition) -> int:
        if partition not in self.positions:
            raise IllegalStateError(f"Partition {partition} is not assigned")
        return self.positions[partition]


def _lag(group: str, partition: int) -> float | None:
    labels = {"consumer_group": group, "topic": TOPIC, "partition": str(partition)}
    samples = [s for s in scrape().samples(LAG) if s.labels == labels]
    return samples[0].value if samples else None


async def test_lag_is_end_offset_minus_position_per_partition() -> None:
    p0, p1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    consumer = FakeConsumer(ends={p0: 120, p1: 40}, positions={p0: 100, p1: 40})
    lag = ConsumerLag(consumer, "lag-group-a")
    await lag.measure()
    try:
        assert (_lag("lag-group-a", 0), _lag("lag-group-a", 1)) == (20, 0)
        # A partition assigned elsewhere after a rebalance leaves the gauge.
        del consumer.positions[p1]
        consumer.ends[p0] = 150
        await lag.measure()
        assert (_lag("lag-group-a", 0), _lag("lag-group-a", 1)) == (50, None)
    finally:
        lag.close()
    assert _lag("lag-group-a", 0) is None  # a stopped consumer reports nothing


async def test_while_the_brokers_cannot_answer_the_last_lag_stays() -> None:
    p0 = TopicPartition(TOPIC, 0)
    consumer = FakeConsumer(ends={p0: 10}, positions={p0: 4})
    lag = ConsumerLag(consumer, "lag-group-b", every_s=0.01)
    running = asyncio.create_task(lag.run())
    try:
        async with asyncio.timeout(5):
            while not consumer.asked:
                await asyncio.sleep(0.005)
        assert _lag("lag-group-b", 0) == 6
        consumer.broker_down = True
        asked = len(consumer.asked)
        async with asyncio.timeout(5):
            while len(consumer.asked) < asked + 2:  # measured again, failing
                await asyncio.sleep(0.005)
        assert _lag("lag-group-b", 0) == 6
        consumer.broker_down = False
        consumer.positions[p0] = 10
        async with asyncio.timeout(5):
            while _lag("lag-group-b", 0) != 0:
                await asyncio.sleep(0.01)
    finally:
        running.cancel()
        lag.close()


async def test_a_measured_consumer_measures_from_start_to_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p0 = TopicPartition(TOPIC, 3)

    async def nothing(self: AIOKafkaConsumer) -> None:
        return None

    async def ends(self: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict:
        return {p0: 7}

    async def position(self: AIOKafkaConsumer, partition: TopicPartition) -> int:
        return 2

    # Everything that would need a broker; MeasuredConsumer's own start and stop are tested.
    monkeypatch.setattr(AIOKafkaConsumer, "start", nothing)
    monkeypatch.setattr(AIOKafkaConsumer, "assignment", lambda self: {p0})
    monkeypatch.setattr(AIOKafkaConsumer, "end_offsets", ends)
    monkeypatch.setattr(AIOKafkaConsumer, "position", position)
    consumer = MeasuredConsumer(group_id="lag-group-c", bootstrap_servers="127.0.0.1:1")
    await consumer.start()
    async with asyncio.timeout(5):
        while _lag("lag-group-c", 3) is None:
            await asyncio.sleep(0.01)
    assert _lag("lag-group-c", 3) == 5
    await consumer.stop()
    assert _lag("lag-group-c", 3) is None


async def test_measured_consumer_takes_the_runtime_consumer_configuration() -> None:
    consumer = measured_consumer(ServiceSettings(), "lag-group-d", "tests")
    assert consumer._group_id == "lag-group-d"
    assert consumer._enable_auto_commit is False
    await consumer.stop()  # never started: closes its client


@dataclass(frozen=True)
class _Record:
    topic: str = "case.events.v1"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"case-1"
    value: bytes = b"\x00garbage"
    headers: tuple[tuple[str, bytes], ...] = ()


async def test_dead_letters_are_counted_by_source_topic_and_consumer_once_parked() -> None:
    kafka = FakeKafka()
    labels = {"topic": "case.events.v1", "consumer": "metrics-test"}
    before = scrape().value("casedesk_kafka_dead_letters_total", **labels)
    assert await dead_letter(kafka.publisher(), "case.events.v1", "metrics-test", _Record(), "bad")
    assert scrape().value("casedesk_kafka_dead_letters_total", **labels) == before + 1
    closed = kafka.publisher()
    closed.close()
    assert not await dead_letter(closed, "case.events.v1", "metrics-test", _Record(), "bad")
    assert scrape().value("casedesk_kafka_dead_letters_total", **labels) == before + 1

"""A poisoned case event is parked before its batch commits: the offset waits for Kafka's ack."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.kafka.case_events import CaseEventConsumer
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import NotifyPolicy
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.publishing import Publisher, dead_letter
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_runtime.testing.kafka import FakeKafka

PARTITION = TopicPartition(events.TOPIC, 0)


@dataclass
class FakeCaseEvents:
    """What CaseEventConsumer needs of an AIOKafkaConsumer: one batch of one partition."""

    batch: list[Any]
    committed: list[dict[TopicPartition, Any]] = field(default_factory=list)
    returned: int = 0  # the position: records handed out so far

    def subscribe(self, topics: list[str], listener: Any) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    def paused(self) -> set[TopicPartition]:
        return set()

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch, self.batch = self.batch, []
        if not batch:
            await asyncio.sleep(0.005)
            return {}
        self.returned += len(batch)
        return {PARTITION: batch}

    def highwater(self, partition: TopicPartition) -> int:
        return self.returned + len(self.batch)

    async def position(self, partition: TopicPartition) -> int:
        return self.returned

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.committed.append(offsets)


def consumer_for(store: DeliveryStore, source: FakeCaseEvents, dlq: Publisher) -> CaseEventConsumer:
    async def park(record: Any, error: Exception | str) -> bool:
        return await dead_letter(dlq, events.TOPIC, "notify", record, error)

    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), channels=(), load_card=store.card, journal=journal,
    )  # fmt: skip
    dispatcher = Dispatcher(
        store, {}, RetryPolicy(1, 0.01, 0.01), dead_letter=park, journal=journal
    )
    handler = BatchHandler(store, planner, dispatcher, park, journal_written=lambda: None)
    return CaseEventConsumer(
        source, events.TOPIC, handler,  # type: ignore[arg-type]
        kafka_commit_interval_s=0,
    )  # fmt: skip


async def test_a_park_that_fails_once_is_retried_and_the_offset_stored_only_after_the_ack(
    store: DeliveryStore,
) -> None:
    poisoned = events.Record(events.TOPIC, 0, 0, b"case-1", b"\xff not a case event")
    created = events.record(CaseStream("case-1", number="2026-0000001").created(), offset=1)
    source = FakeCaseEvents([poisoned, created])
    kafka = FakeKafka(fail_sends=1)
    consumer = consumer_for(store, source, kafka.publisher())

    running = asyncio.create_task(consumer.run())
    try:
        await kafka.until_failures(1)
        assert store.stored_offsets(events.TOPIC) == {}  # the batch waits for the dead letter
        async with asyncio.timeout(5):
            while not store.stored_offsets(events.TOPIC):
                await asyncio.sleep(0.005)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 5)

    assert store.stored_offsets(events.TOPIC) == {0: 2}
    assert store.card("case-1") is not None
    [parked] = kafka.written
    assert (parked.topic, parked.key, parked.value) == (
        f"{events.TOPIC}.dlq.notify", b"case-1", b"\xff not a case event",
    )  # fmt: skip
    assert json.loads(parked.header("casedesk-dlq") or b"{}")["source_offset"] == 0
    assert [offsets[PARTITION].offset for offsets in source.committed] == [2]


async def test_a_park_abandoned_at_shutdown_leaves_the_batch_to_be_read_again(
    store: DeliveryStore,
) -> None:
    poisoned = events.Record(events.TOPIC, 0, 0, b"case-1", b"\xff")
    source = FakeCaseEvents([poisoned])
    kafka = FakeKafka(down=True)
    dlq = kafka.publisher()
    consumer = consumer_for(store, source, dlq)

    running = asyncio.create_task(consumer.run())
    await kafka.until_failures(2)
    consumer.stop()
    dlq.close()
    await asyncio.wait_for(running, 5)  # returns: a stop, not a failure

    assert store.stored_offsets(events.TOPIC) == {}
    assert source.committed == []


class CountingHandler:
    """The parts of BatchHandler the consumer loop calls, counting the caught-up reports."""

    def __init__(self) -> None:
        self.caught_up_calls = 0
        self.backlog = 0

    def stored_offsets(self, topic: str) -> dict[int, int]:
        return {}

    async def handle(self, records: list[Any]) -> dict[tuple[str, int], int]:
        return {(r.topic, r.partition): r.offset + 1 for r in records}

    def caught_up(self) -> None:
        self.caught_up_calls += 1


class PausedCaseEvents(FakeCaseEvents):
    def paused(self) -> set[TopicPartition]:
        return {PARTITION}

    def resume(self, *partitions: TopicPartition) -> None:
        """Stays paused (as while another part of notify holds it so)."""


class BehindCaseEvents(FakeCaseEvents):
    def highwater(self, partition: TopicPartition) -> int:
        return self.returned + 5  # more on the broker than fetched so far


async def run_briefly(source: FakeCaseEvents, handler: CountingHandler) -> None:
    consumer = CaseEventConsumer(source, events.TOPIC, handler)  # type: ignore[arg-type]
    running = asyncio.create_task(consumer.run())
    await asyncio.sleep(0.1)
    consumer.stop()
    await asyncio.wait_for(running, 5)


async def test_an_empty_poll_at_the_end_of_every_partition_is_reported_as_caught_up() -> None:
    record = events.record(CaseStream("case-1").created(), offset=0)
    at_the_end = CountingHandler()
    await run_briefly(FakeCaseEvents([record]), at_the_end)
    assert at_the_end.caught_up_calls > 0
    for source in (PausedCaseEvents([record]), BehindCaseEvents([record])):
        behind = CountingHandler()
        await run_briefly(source, behind)
        assert behind.caught_up_calls == 0, type(source).__name__

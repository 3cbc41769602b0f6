"""Dead letters of the case-event consumer: the offset that passes a record is stored (and
committed to Kafka) only once the broker acknowledged the record's dead letter."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from sla_builders import T0, case_stream

from casedesk_runtime.testing.kafka import FakeKafka
from casedesk_sla.adapters.consumer import CaseEventConsumer
from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.application.engine import SlaEngine
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook
from casedesk_sla.testing import ManualClock

TOPIC = "case.events.v1"


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int = T0 // 1000
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class FakeCaseEvents:
    """What CaseEventConsumer needs of an AIOKafkaConsumer: one partition, handed out once."""

    records: list[Record]
    committed: list[dict[TopicPartition, int]] = field(default_factory=list)
    _next: int = 0

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._next = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self._next = 0

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch = self.records[self._next :]
        self._next = len(self.records)
        if not batch:
            await asyncio.sleep(0.005)
            return {}
        return {TopicPartition(TOPIC, 0): batch}

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.records)

    def last_poll_timestamp(self, tp: TopicPartition) -> int:
        return T0 // 1_000  # every answer at T0: these tests are about dead letters, not alarms

    async def position(self, tp: TopicPartition) -> int:
        return self._next

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(dict(offsets))


async def test_a_poisoned_record_is_stored_as_consumed_only_after_its_dead_letter_is_acked(
    tmp_path: Path,
) -> None:
    store = SqliteClockStore(tmp_path / "sla.sqlite3")
    engine = SlaEngine(
        SlaBook(PolicyRegistry("test-seconds")), store, ManualClock(T0), Watermarks()
    )
    good = case_stream("chat-1").created().SerializeToString()
    source = FakeCaseEvents(
        [
            Record(TOPIC, 0, 0, b"bad", b"\xff not a case event", headers=(("traceparent", b"x"),)),
            Record(TOPIC, 0, 1, b"chat-1", good),
        ]
    )
    kafka = FakeKafka(refuse_starts=1, fail_sends=1)  # the dead letter fails twice, then goes
    consumer = CaseEventConsumer(source, engine, TOPIC, kafka.publisher())  # type: ignore[arg-type]
    await consumer.start([0])
    running = asyncio.create_task(consumer.run())
    try:
        await kafka.until_failures(2)
        assert store.positions() == {}  # nothing consumed while the dead letter is not acked
        async with asyncio.timeout(5):
            while not source.committed:
                await asyncio.sleep(0.005)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 5)

    assert store.positions()[(TOPIC, 0)].next_offset == 2
    assert source.committed[0] == {TopicPartition(TOPIC, 0): 2}
    [parked] = kafka.written
    assert (parked.topic, parked.key, parked.value) == (
        f"{TOPIC}.dlq.sla", b"bad", b"\xff not a case event",
    )  # fmt: skip
    assert parked.header("traceparent") == b"x"
    reason = json.loads(parked.header("casedesk-dlq") or b"{}")
    assert (reason["source_offset"], reason["consumer"]) == (0, "sla")
    assert store.outbox_size() == 2  # the good record started its clocks
    store.close()


def engine_over(db: Path) -> tuple[SlaEngine, SqliteClockStore]:
    """One incarnation of the service's engine over a database file (dropping it is a kill -9)."""
    store = SqliteClockStore(db)
    book = SlaBook(PolicyRegistry("test-seconds"), is_retired=store.is_retired)
    store.load(book)
    return SlaEngine(book, store, ManualClock(T0), Watermarks(store.positions())), store


def refused_batch() -> list[Record]:
    """A readable Created the policy refuses (no channel), between two good ones."""
    odd = case_stream("odd-1").created()
    odd.created.channel = 0  # CHANNEL_UNSPECIFIED: no SLA target for it
    return [
        Record(TOPIC, 0, offset, event.meta.case_id.encode(), event.SerializeToString())
        for offset, event in enumerate(
            (case_stream("chat-0").created(), odd, case_stream("chat-1").created())
        )
    ]


async def test_a_refused_record_is_not_stored_nor_committed_past_before_its_dead_letter_is_acked(
    tmp_path: Path,
) -> None:
    engine, store = engine_over(tmp_path / "sla.sqlite3")
    source = FakeCaseEvents(refused_batch())
    kafka = FakeKafka(fail_sends=3)  # the dead letter fails three times, then goes
    consumer = CaseEventConsumer(source, engine, TOPIC, kafka.publisher())  # type: ignore[arg-type]
    await consumer.start([0])
    running = asyncio.create_task(consumer.run())
    try:
        await kafka.until_failures(3)
        # What came before the refused record is stored; the refused one and what follows wait.
        assert store.positions()[(TOPIC, 0)].next_offset == 1
        assert source.committed == []
        async with asyncio.timeout(5):
            while not source.committed:
                await asyncio.sleep(0.005)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 5)

    assert store.positions()[(TOPIC, 0)].next_offset == 3
    assert source.committed == [{TopicPartition(TOPIC, 0): 3}]
    [parked] = kafka.written
    assert (parked.topic, parked.key) == (f"{TOPIC}.dlq.sla", b"odd-1")
    reason = json.loads(parked.header("casedesk-dlq") or b"{}")
    assert (reason["source_offset"], reason["error_type"]) == (1, "UnknownChannelError")
    assert store.outbox_size() == 4  # both good cases started their two clocks
    store.close()


async def test_a_crash_before_the_dead_letter_is_acked_reads_the_refused_record_again(
    tmp_path: Path,
) -> None:
    db = tmp_path / "sla.sqlite3"
    engine, store = engine_over(db)
    records = refused_batch()
    unreachable = FakeKafka(down=True)  # the dead letter is never acknowledged
    first = CaseEventConsumer(
        FakeCaseEvents(records),  # type: ignore[arg-type]
        engine,
        TOPIC,
        unreachable.publisher(),
    )
    await first.start([0])
    running = asyncio.create_task(first.run())
    await unreachable.until_failures(2)
    running.cancel()  # the process dies while the dead letter waits for the broker
    await asyncio.gather(running, return_exceptions=True)
    store.close()

    engine, store = engine_over(db)
    assert store.positions()[(TOPIC, 0)].next_offset == 1  # the refused record is not passed
    source, kafka = FakeCaseEvents(records), FakeKafka()
    second = CaseEventConsumer(source, engine, TOPIC, kafka.publisher())  # type: ignore[arg-type]
    await second.start([0])
    running = asyncio.create_task(second.run())
    try:
        async with asyncio.timeout(5):
            while not source.committed:
                await asyncio.sleep(0.005)
    finally:
        second.stop()
        await asyncio.wait_for(running, 5)

    assert [(w.topic, w.key) for w in kafka.written] == [(f"{TOPIC}.dlq.sla", b"odd-1")]
    assert store.positions()[(TOPIC, 0)].next_offset == 3
    store.close()

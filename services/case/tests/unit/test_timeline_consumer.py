"""The timeline's consumer: offsets committed only after the batch is recorded, nothing lost or
doubled by a crash or a failing database, unreadable records skipped and counted."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError

from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_case.adapters.timeline.consumer import TimelineConsumer, TimelineTopics
from casedesk_case.adapters.timeline.memory import InMemoryCaseTimeline
from casedesk_case.adapters.timeline.store import Entry
from casedesk_case.application.timeline import ClockState
from casedesk_case.settings import CaseSettings
from casedesk_runtime import kafka_access
from casedesk_runtime.events import to_timestamp
from casedesk_runtime.settings import load_settings

from .test_timeline_clocks import CASE, at
from .test_timeline_wire import notification, sla_event

TOPICS = TimelineTopics("sla.events.v1", "notification.events.v1")
SLA_TP = TopicPartition(TOPICS.sla, 0)


@dataclass(frozen=True)
class Record:
    """The fields of an aiokafka ConsumerRecord the consumer reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class Log:
    """A broker's partitions and one group's committed offsets."""

    records: dict[TopicPartition, list[Record]] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    refuse_starts: int = 0

    def append(self, topic: str, value: bytes, partition: int = 0) -> None:
        tp = TopicPartition(topic, partition)
        log = self.records.setdefault(tp, [])
        log.append(Record(topic, partition, len(log), CASE.encode(), value))

    def consumer(self) -> FakeConsumer:
        return FakeConsumer(self)


@dataclass
class FakeConsumer:
    log: Log
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    polls: int = 0
    stopped: bool = False

    async def start(self) -> None:
        if self.log.refuse_starts:
            self.log.refuse_starts -= 1
            raise KafkaConnectionError("fake broker unreachable")

    def subscribe(self, topics: Sequence[str]) -> None:
        self.positions = {
            tp: self.log.committed.get(tp, 0) for tp in self.log.records if tp.topic in topics
        }

    async def getmany(
        self, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[Record]]:
        self.polls += 1
        fetched = {}
        for tp, position in self.positions.items():
            records = self.log.records[tp][position : position + max_records]
            if records:
                fetched[tp] = records
                self.positions[tp] = records[-1].offset + 1
        if not fetched:
            await asyncio.sleep(timeout_ms / 1000)
        return fetched

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.committed.update(offsets)

    async def stop(self) -> None:
        self.stopped = True


class Crash(BaseException):
    """The process dies: nothing after this point runs (not an error a loop could retry)."""


@dataclass
class Store(InMemoryCaseTimeline):
    """The memory store, failing as told before (`refuse`) or after (`crash_after`) recording."""

    def __init__(self, refuse: int = 0, crash_after: bool = False) -> None:
        super().__init__()
        self.refuse = refuse
        self.crash_after = crash_after
        self.calls = 0

    def record(self, entries: Sequence[Entry]) -> None:
        self.calls += 1
        if self.refuse:
            self.refuse -= 1
            raise OSError("database unavailable")
        super().record(entries)
        if self.crash_after:
            raise Crash


def story(log: Log) -> None:
    """A case opened, warned, then a notice sent: four records, one of them not a fact."""
    for kind, payload in (
        ("started", sla_events.ClockStarted(started_at=to_timestamp(at(0)))),
        ("warning", sla_events.Warning(elapsed_fraction=0.8)),
    ):
        event = sla_event(**{kind: payload})
        event.meta.event_id = f"sla-{kind}"
        event.meta.occurred_at.CopyFrom(to_timestamp(at(192 if kind == "warning" else 0)))
        log.append(TOPICS.sla, event.SerializeToString())
    log.append(TOPICS.notification, notification(requested={}).SerializeToString())
    sent = notification(sent={"attempt": 1})
    log.append(TOPICS.notification, sent.SerializeToString())


def consumer_of(log: Log, store: Store, made: list[FakeConsumer] | None = None) -> TimelineConsumer:
    def make() -> FakeConsumer:
        consumer = log.consumer()
        if made is not None:
            made.append(consumer)
        return consumer

    return TimelineConsumer(make, store, TOPICS, batch_size=10, poll_ms=10)


async def run_until(consumer: TimelineConsumer, done: Callable[[], bool]) -> None:
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(5):
            while not done() and not task.done():
                await asyncio.sleep(0.005)
    finally:
        consumer.stop()
        await task


def ends(log: Log) -> dict[TopicPartition, int]:
    return {tp: len(records) for tp, records in log.records.items()}


async def test_a_batch_is_recorded_then_committed() -> None:
    log, store = Log(), Store()
    story(log)
    made: list[FakeConsumer] = []
    await run_until(consumer_of(log, store, made), lambda: log.committed == ends(log))
    sla, notices = store.facts(CASE)
    assert [f.kind for f in sla] == ["started", "warning"]
    assert [n.kind for n in notices] == ["sent"]
    assert store.clocks([CASE])[CASE].state is ClockState.WARNING
    assert made[0].stopped


async def test_a_database_that_refuses_holds_the_batch_until_it_is_recorded() -> None:
    log, store = Log(), Store(refuse=2)
    story(log)
    made: list[FakeConsumer] = []
    consumer = consumer_of(log, store, made)
    task = asyncio.create_task(consumer.run())
    async with asyncio.timeout(5):
        while store.calls < 2:
            await asyncio.sleep(0.005)
    assert log.committed == {}  # nothing committed while the rows are not durable
    async with asyncio.timeout(5):
        while log.committed != ends(log):
            await asyncio.sleep(0.005)
    consumer.stop()
    await task
    assert len(store.facts(CASE)[0]) == 2 and len(store.facts(CASE)[1]) == 1


async def test_a_crash_between_recording_and_committing_loses_and_doubles_nothing() -> None:
    log = Log()
    story(log)
    crashing = Store(crash_after=True)
    with pytest.raises(Crash):
        await run_until(consumer_of(log, crashing), lambda: False)
    assert log.committed == {}
    # The restarted process has the same database and reads the batch again.
    crashing.crash_after = False
    await run_until(consumer_of(log, crashing), lambda: log.committed == ends(log))
    sla, notices = crashing.facts(CASE)
    assert [f.event_id for f in sla] == ["sla-started", "sla-warning"]
    assert len(notices) == 1
    assert crashing.breaches_since(at(0)) == 0


async def test_an_unreadable_record_is_skipped_counted_and_committed_past() -> None:
    log, store = Log(), Store()
    log.append(TOPICS.sla, b"\x08\x96\x01 not an event")
    story(log)
    consumer = consumer_of(log, store)
    await run_until(consumer, lambda: log.committed == ends(log))
    assert consumer.unreadable == 1
    assert [f.kind for f in store.facts(CASE)[0]] == ["started", "warning"]


async def test_a_broker_away_at_start_is_waited_for() -> None:
    log, store = Log(refuse_starts=2), Store()
    story(log)
    made: list[FakeConsumer] = []
    await run_until(consumer_of(log, store, made), lambda: log.committed == ends(log))
    assert len(made) == 3 and all(c.stopped for c in made)
    assert len(store.facts(CASE)[0]) == 2


def test_the_timeline_follows_by_default_with_the_group_kafka_grants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("CASEDESK_RELAY_ENABLED", "CASEDESK_CASE_TIMELINE_ENABLED"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(CaseSettings)
    assert settings.timeline_follows
    assert settings.case_timeline_group == kafka_access.DEFAULT_GROUPS["case"]
    # A process kept off Kafka (no relay) does not follow either, unless asked to.
    monkeypatch.setenv("CASEDESK_RELAY_ENABLED", "false")
    assert not load_settings(CaseSettings).timeline_follows
    monkeypatch.setenv("CASEDESK_CASE_TIMELINE_ENABLED", "true")
    assert load_settings(CaseSettings).timeline_follows

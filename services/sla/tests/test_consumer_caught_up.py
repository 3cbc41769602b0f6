"""Chaos defect 1: a breach fired while the event that stopped its clock was on Kafka but unread.

Case 2026-0002301's answer reached Kafka 9 ms before its due instant; the consumer, caught up at
the broker's previous answer, let alarms fire up to *now*, published Breached and then a late Met.
A caught-up partition is read whole only up to the broker's last answer, so alarms may fire only
up to that instant (less a margin), and the answer read at the next fetch prevents the breach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from sla_builders import SECOND, T0, case_stream, moment

from casedesk_runtime.testing.kafka import FakeKafka
from casedesk_sla.adapters.consumer import CaseEventConsumer
from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.application.engine import SlaEngine
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook
from casedesk_sla.testing import ManualClock
from casedesk_vocabulary.enums import Status

TOPIC = "case.events.v1"
PARTITION = TopicPartition(TOPIC, 0)


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class Fetch:
    """One broker answer: the records it carried, when it arrived, and the wall clock then."""

    records: list[Any]
    answered_at: int  # microseconds


@dataclass
class ScriptedBroker:
    """An AIOKafkaConsumer over one partition answering a script of fetches, then stopping."""

    fetches: list[Fetch]
    clock: ManualClock
    stop: Callable[[], None] = lambda: None
    _log: list[Any] = field(default_factory=list)
    _answered_ms: int | None = None
    _position: int = 0

    def assign(self, partitions: list[TopicPartition]) -> None:
        pass

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._position = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self._position = 0

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        if not self.fetches:
            self.stop()
            return {}
        fetch = self.fetches.pop(0)
        self.clock.set(max(self.clock.now(), fetch.answered_at))  # a clock never goes back
        self._log.extend(fetch.records)
        self._answered_ms = fetch.answered_at // 1_000
        self._position += len(fetch.records)
        return {PARTITION: fetch.records} if fetch.records else {}

    def highwater(self, tp: TopicPartition) -> int:
        return len(self._log)

    def last_poll_timestamp(self, tp: TopicPartition) -> int | None:
        return self._answered_ms

    async def position(self, tp: TopicPartition) -> int:
        return self._position

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        pass


def record(offset: int, event: Any) -> Record:
    value = event.SerializeToString()
    return Record(TOPIC, 0, offset, event.meta.case_id.encode(), value, T0 // 1_000)


async def test_an_answer_on_kafka_before_the_due_instant_but_unread_prevents_the_breach(
    tmp_path: Path,
) -> None:
    # test-seconds: a chat case's first response is due 4 s after registration.
    due = T0 + 4 * SECOND
    stream = case_stream("case-2301")
    created = stream.created()
    taken = stream.status_changed(to=Status.IN_PROGRESS, at=moment(due - 9_000))  # 9 ms before
    clock = ManualClock(T0)
    decided: list[Any] = []
    store = SqliteClockStore(tmp_path / "sla.sqlite3")
    engine = SlaEngine(
        SlaBook(PolicyRegistry("test-seconds")),
        store,
        clock,
        Watermarks(),
        on_decided=decided.extend,
    )
    broker = ScriptedBroker(
        [
            Fetch([record(0, created)], answered_at=T0 + SECOND),
            # Empty answers up to just before the due instant: nothing more was on Kafka then.
            Fetch([], answered_at=due - 20_000),
            # The answer was appended at due - 9 ms, after that answer; the next fetch is slow
            # (a leader moving, a long poll): meanwhile the timer runs past the due instant.
            Fetch([], answered_at=due - 20_000),
            Fetch([record(1, taken)], answered_at=due + 300_000),
            Fetch([], answered_at=due + SECOND),
        ],
        clock,
    )

    def timer_tick() -> None:  # the alarm timer, woken by the consumer's progress
        clock.set(max(clock.now(), due + 100_000))  # the wall clock is past the due instant
        engine.tick()

    consumer = CaseEventConsumer(broker, engine, TOPIC, FakeKafka().publisher(), timer_tick)  # type: ignore[arg-type]
    broker.stop = consumer.stop
    await consumer.start([0])
    await consumer.run()

    kinds = [fact.kind.value for fact in decided]
    assert "Breached" not in kinds, kinds
    assert "Met" in kinds
    store.close()


def test_a_caught_up_partition_bounds_the_watermark_at_the_brokers_last_answer() -> None:
    a, b = (TOPIC, 0), (TOPIC, 1)
    watermarks = Watermarks()
    watermarks.assign([a, b])
    watermarks.set_caught_up(a, True, as_of=T0 - 2 * SECOND)
    watermarks.set_caught_up(b, True)  # no instant given: the present
    assert watermarks.safe_time(T0) == T0 - 2 * SECOND
    watermarks.set_caught_up(a, False)  # behind now, never read: nothing may fire
    assert watermarks.safe_time(T0) is None
    watermarks.set_caught_up(a, True, as_of=T0 + SECOND)  # never beyond the present
    assert watermarks.safe_time(T0) == T0

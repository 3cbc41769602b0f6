"""The Publisher replaces a producer whose send failed and re-sends only what was not acknowledged.

Fake producers stand in for aiokafka's here (the real broker outage is tested in
tests/integration/test_relay_outage.py): each records what it was given, and a script decides
which sends are acknowledged, which fail and which never get an answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from casedesk_runtime.publishing import OutgoingRecord, Publisher, dead_letter

Outcome = Callable[[OutgoingRecord], str]  # "ack", "fail" or "hang"


class FakeAccumulator:
    def __init__(self, producer: FakeProducer) -> None:
        self._producer = producer

    def fail_all(self, error: Exception) -> None:
        for future in self._producer.futures:
            if not future.done():
                future.set_exception(error)


@dataclass
class FakeProducer:
    outcome: Outcome
    sent: list[OutgoingRecord] = field(default_factory=list)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    stopped: bool = False

    def __post_init__(self) -> None:
        self._message_accumulator = FakeAccumulator(self)

    async def send(self, topic: str, value: bytes, key: bytes | None, headers: list) -> Any:
        assert not self.stopped, "a discarded producer must never be used again"
        record = OutgoingRecord(topic, value, key, tuple(headers))
        self.sent.append(record)
        future = asyncio.get_running_loop().create_future()
        verdict = self.outcome(record)
        if verdict == "ack":
            future.set_result(len(self.sent))
        elif verdict == "fail":
            future.set_exception(ConnectionError("broker went away"))
        self.futures.append(future)
        return future

    async def stop(self) -> None:
        for future in self.futures:  # what stop() does to unflushed batches: they must be done
            assert future.done(), "discard must fail what the producer still holds first"
        self.stopped = True


@dataclass
class Cluster:
    """Hands out one fake producer per start(), following a script of outcomes."""

    outcomes: list[Outcome | Exception]
    producers: list[FakeProducer] = field(default_factory=list)

    async def start(self) -> FakeProducer:
        outcome = self.outcomes.pop(0) if self.outcomes else _ack
        if isinstance(outcome, Exception):
            raise outcome
        producer = FakeProducer(outcome)
        self.producers.append(producer)
        return producer


def _ack(_: OutgoingRecord) -> str:
    return "ack"


def _records(count: int, keys: str = "ab") -> list[OutgoingRecord]:
    return [
        OutgoingRecord("case.events.v1", f"e{i}".encode(), keys[i % len(keys)].encode())
        for i in range(count)
    ]


def _publisher(cluster: Cluster, **options: Any) -> Publisher:
    settings = {"backoff_s": (0.001,), "delivery_timeout_s": 1.0, **options}
    return Publisher(cluster.start, "test relay", **settings)


async def test_a_healthy_producer_is_kept_across_deliveries() -> None:
    cluster = Cluster([])
    publisher = _publisher(cluster)
    assert await publisher.deliver(_records(3))
    assert await publisher.deliver(_records(2))
    assert len(cluster.producers) == 1
    assert len(cluster.producers[0].sent) == 5
    await publisher.aclose()
    assert cluster.producers[0].stopped


async def test_after_a_failed_send_a_fresh_producer_resends_only_the_unacknowledged() -> None:
    # Partition "a" took its records, partition "b" failed: the broker lost b's leader.
    cluster = Cluster([lambda r: "ack" if r.key == b"a" else "fail"])
    publisher = _publisher(cluster)
    records = _records(6)
    assert await publisher.deliver(records)
    first, second = cluster.producers
    assert first.stopped
    assert second.sent == [r for r in records if r.key == b"b"]  # in their original order
    assert publisher.publishing


async def test_a_send_without_an_answer_times_out_and_is_resent_by_a_fresh_producer() -> None:
    cluster = Cluster([lambda r: "ack" if r.value == b"e0" else "hang"])
    publisher = _publisher(cluster, delivery_timeout_s=0.05)
    records = _records(4)
    assert await publisher.deliver(records)
    first, second = cluster.producers
    assert all(f.done() for f in first.futures)  # nothing of the old producer left pending
    assert second.sent == records[1:]


async def test_an_outage_logs_when_it_starts_and_ends_not_per_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    unreachable = ConnectionError("Unable to bootstrap from [('127.0.0.1', 9092)]")
    cluster = Cluster([unreachable] * 200)
    publisher = _publisher(cluster, report_every_s=3600)
    with caplog.at_level(logging.INFO, logger="casedesk_runtime.publishing"):
        assert await publisher.deliver(_records(3), waiting_at=lambda: {"position": 41})
    lines = [r for r in caplog.records if r.name == "casedesk_runtime.publishing"]
    messages = [r.getMessage() for r in lines]
    assert len(messages) == 2, messages
    assert "publishing to Kafka failed" in messages[0]
    assert "resumed" in messages[1] and "200 failed attempts" in messages[1]
    assert lines[0].position == 41  # type: ignore[attr-defined]
    assert len(cluster.producers) == 1


async def test_a_long_outage_adds_one_summary_line_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    cluster = Cluster([ConnectionError("down")] * 30)
    publisher = _publisher(cluster, report_every_s=10.0, clock=lambda: now[0])
    original = cluster.start

    async def start_one_second_later() -> FakeProducer:
        now[0] += 1.0
        return await original()

    publisher.start = start_one_second_later
    with caplog.at_level(logging.WARNING, logger="casedesk_runtime.publishing"):
        assert await publisher.deliver(_records(1), waiting_at=lambda: {"lag_events": 7})
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 + 2 + 1  # start, one summary per 10 s of a 30 s outage, end
    assert "still unavailable" in messages[1] and "10 attempts failed" in messages[1]
    assert caplog.records[1].lag_events == 7  # type: ignore[attr-defined]


async def test_closing_abandons_a_delivery_blocked_by_an_outage() -> None:
    cluster = Cluster([lambda _: "hang"])
    publisher = _publisher(cluster, delivery_timeout_s=3600)
    delivery = asyncio.create_task(publisher.deliver(_records(2)))
    await asyncio.sleep(0.01)
    publisher.close()
    assert await asyncio.wait_for(delivery, 1.0) is False
    assert cluster.producers[0].stopped
    assert not await publisher.deliver(_records(1))


@dataclass
class SourceRecord:
    topic: str = "case.events.v1"
    partition: int = 3
    offset: int = 1207
    key: bytes = b"case-1"
    value: bytes = b"\x00poison"
    headers: tuple[tuple[str, bytes], ...] = (("traceparent", b"00-abc-def-01"),)


async def test_a_dead_letter_keeps_the_record_and_says_where_it_came_from() -> None:
    cluster = Cluster([ConnectionError("down")])  # the first attempt fails: retried, not lost
    publisher = _publisher(cluster)
    assert await dead_letter(publisher, "case.events.v1", "notify", SourceRecord(), ValueError("x"))
    (parked,) = cluster.producers[0].sent
    assert parked.topic == "case.events.v1.dlq.notify"
    assert (parked.key, parked.value) == (b"case-1", b"\x00poison")
    headers = dict(parked.headers)
    assert headers["traceparent"] == b"00-abc-def-01"
    reason = json.loads(headers["casedesk-dlq"])
    assert reason["source_offset"] == 1207 and reason["error_type"] == "ValueError"


async def test_concurrent_deliveries_take_turns_through_a_failure() -> None:
    cluster = Cluster([lambda _: "fail"])  # the first producer fails whatever it is given
    publisher = _publisher(cluster)
    first, second = _records(2, keys="a"), _records(3, keys="b")
    results = await asyncio.gather(publisher.deliver(first), publisher.deliver(second))
    assert results == [True, True]
    failed, fresh = cluster.producers
    assert failed.sent == first  # the second delivery waited instead of joining a doomed producer
    assert fresh.sent == first + second


async def test_the_shared_fake_broker_refuses_then_takes_what_a_publisher_sends() -> None:
    from casedesk_runtime.testing.kafka import FakeKafka

    kafka = FakeKafka(refuse_starts=2, fail_sends=1)
    publisher = kafka.publisher()
    assert await publisher.deliver(_records(3))
    assert kafka.starts == 4 and kafka.failures == 3  # two refused starts, one failed send
    # e0's send failed while the others were taken: only e0 is sent again.
    assert [w.value for w in kafka.written] == [b"e1", b"e2", b"e0"]
    await publisher.aclose()
    assert kafka.stopped == 2  # the producer whose send failed, and the last one


async def test_stopping_a_consumer_ignores_the_stray_cancellation_of_aiokafka() -> None:
    from casedesk_runtime.kafka import stop_consumer

    class Consumer:
        async def stop(self) -> None:
            raise asyncio.CancelledError  # what aiokafka 0.14's fetcher lets escape

    await stop_consumer(Consumer())  # no exception: the caller is not being cancelled

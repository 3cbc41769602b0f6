"""The SLA service as a real process on real Kafka, under the seconds-long test policy.

CaseEvents are produced directly to a private copy of case.events.v1 (as the case service's relay
would publish them), and the SLA events are read back from a private sla.events.v1, so events
other tests leave on the shared topics do not matter. Under policy `test-seconds` a chat case's
first response is due after 4 s (warning at 3.2 s) and its resolution after 8 s (warning 6.4 s).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from google.protobuf import json_format
from support.services import ServiceLauncher, ServiceProcess

from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_replay import cli as replay_cli
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.testing.case_events import CaseEvent, CaseStream
from casedesk_runtime.topics import TopicSpec, ensure_topics
from casedesk_sla.adapters.partitions import topic_partitions
from casedesk_vocabulary.enums import ActorKind, Channel, Status

pytestmark = pytest.mark.integration

FIRST_RESPONSE_S, RESOLUTION_S = 4, 8
# Generous on purpose: the 1 s lateness bound is the benchmark's to measure, not a timed test's;
# this only catches a breach that waits for some unrelated wake-up.
GROSSLY_LATE_MS = 5_000


@dataclass(frozen=True)
class Topics:
    source: str
    target: str


@dataclass(frozen=True)
class Seen:
    event: sla_events.SlaEvent
    published_ms: int

    @property
    def key(self) -> tuple[str, str]:
        return self.event.WhichOneof("payload"), sla_events.Target.Name(self.event.target)


@pytest.fixture
async def topics(kafka_bootstrap: str) -> Topics:
    suffix = uuid.uuid4().hex[:8]
    source, target = f"case.events.v1.sla-test-{suffix}", f"sla.events.v1.sla-test-{suffix}"
    specs = (
        TopicSpec(source, partitions=3),
        TopicSpec(target, partitions=3),
        TopicSpec(f"{source}.dlq.sla", partitions=1),
    )
    await ensure_topics(kafka_bootstrap, specs)
    return Topics(source, target)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def start_sla(
    services: ServiceLauncher, kafka_bootstrap: str, topics: Topics, db: Path
) -> ServiceProcess:
    return services(
        "casedesk_sla",
        {
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CASEDESK_SLA_POLICY_VERSION": "test-seconds",
            "CASEDESK_SLA_DB_PATH": str(db),
            "CASEDESK_CASE_EVENTS_TOPIC": topics.source,
            "CASEDESK_SLA_EVENTS_TOPIC": topics.target,
            "CASEDESK_SLA_CONSUMER_GROUP": f"sla-test-{uuid.uuid4().hex[:8]}",
        },
    )


async def produce(producer: AIOKafkaProducer, topic: str, event: CaseEvent) -> None:
    await producer.send_and_wait(topic, event.SerializeToString(), key=event.meta.case_id.encode())


async def produce_created(producer: AIOKafkaProducer, topic: str, case: CaseStream) -> datetime:
    registered_at = datetime.now(UTC)
    await produce(producer, topic, case.created(at=registered_at))
    return registered_at


async def produce_status(
    producer: AIOKafkaProducer, topic: str, case: CaseStream, new: Status
) -> None:
    citizen = case.status is Status.WAITING_FOR_CITIZEN and new is Status.IN_PROGRESS
    by = ActorKind.CITIZEN if citizen else ActorKind.SPECIALIST
    await produce(producer, topic, case.status_changed(to=new, by=by, at=datetime.now(UTC)))


def chat_case(case_id: str) -> CaseStream:
    return CaseStream(case_id, number="2026-0000042", channel=Channel.PORTAL_CHAT)


class SlaWatcher:
    """Reads the SLA topic from its start and keeps what concerns one case."""

    def __init__(self, bootstrap: str, topic: str, case_id: str) -> None:
        self._consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"sla-watch-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self._case_id = case_id
        self.seen: list[Seen] = []

    async def __aenter__(self) -> SlaWatcher:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def until(self, kind: str, target: str, timeout_s: float = 30.0) -> Seen:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for seen in self.seen:
                if seen.key == (kind, target):
                    return seen
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    event = sla_events.SlaEvent.FromString(record.value)
                    if event.meta.case_id == self._case_id:
                        self.seen.append(Seen(event, record.timestamp))
        raise AssertionError(f"no {kind} {target} within {timeout_s}s; saw {self.keys()}")

    async def settle(self, seconds: float) -> None:
        """Keep reading for a while, so a duplicate would show up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    event = sla_events.SlaEvent.FromString(record.value)
                    if event.meta.case_id == self._case_id:
                        self.seen.append(Seen(event, record.timestamp))

    def keys(self) -> list[tuple[str, str]]:
        return [seen.key for seen in self.seen]


def due_ms(seen: Seen) -> int:
    return seen.event.due_at.ToMilliseconds()


def offset_ms(registered_at: datetime, seconds: float) -> int:
    return int((registered_at + timedelta(seconds=seconds)).timestamp() * 1000)


async def test_chat_case_gets_warning_then_breach_at_the_right_instants(
    kafka_bootstrap: str,
    topics: Topics,
    producer: AIOKafkaProducer,
    services: ServiceLauncher,
    tmp_path: Path,
) -> None:
    start_sla(services, kafka_bootstrap, topics, tmp_path / "sla.sqlite3")
    case_id = str(uuid.uuid4())
    async with SlaWatcher(kafka_bootstrap, topics.target, case_id) as watcher:
        registered_at = await produce_created(producer, topics.source, chat_case(case_id))
        started = await watcher.until("started", "FIRST_RESPONSE")
        warning = await watcher.until("warning", "FIRST_RESPONSE")
        breach = await watcher.until("breached", "FIRST_RESPONSE")
        resolution_breach = await watcher.until("breached", "RESOLUTION")

    assert due_ms(started) == offset_ms(registered_at, FIRST_RESPONSE_S)
    assert started.event.started.warn_at.ToMilliseconds() == offset_ms(registered_at, 3.2)
    assert started.event.policy_version == "test-seconds"
    assert started.event.calendar_version.startswith("RU/")
    assert warning.event.warning.elapsed_fraction == pytest.approx(0.8)
    assert warning.published_ms >= offset_ms(registered_at, 3.2)
    assert watcher.keys().index(("warning", "FIRST_RESPONSE")) < watcher.keys().index(
        ("breached", "FIRST_RESPONSE")
    )
    for seen, target_s in ((breach, FIRST_RESPONSE_S), (resolution_breach, RESOLUTION_S)):
        assert due_ms(seen) == offset_ms(registered_at, target_s)
        assert seen.event.breached.fired_at == seen.event.due_at
        assert seen.event.breached.tier == types_pb2.L1
        assert due_ms(seen) <= seen.published_ms < due_ms(seen) + GROSSLY_LATE_MS


async def test_kill_between_warning_and_breach_still_yields_each_exactly_once(
    kafka_bootstrap: str,
    topics: Topics,
    producer: AIOKafkaProducer,
    services: ServiceLauncher,
    tmp_path: Path,
) -> None:
    db = tmp_path / "sla.sqlite3"
    sla = start_sla(services, kafka_bootstrap, topics, db)
    case_id = str(uuid.uuid4())
    async with SlaWatcher(kafka_bootstrap, topics.target, case_id) as watcher:
        registered_at = await produce_created(producer, topics.source, chat_case(case_id))
        await watcher.until("warning", "FIRST_RESPONSE")
        sla.kill()
        # The first-response breach (4 s) falls due while the service is down.
        await asyncio.sleep(max(0.0, (offset_ms(registered_at, 5) - time.time() * 1000) / 1000))
        sla.start()
        await watcher.until("breached", "RESOLUTION")
        await watcher.settle(2.0)

    expected = {
        ("started", "FIRST_RESPONSE"),
        ("started", "RESOLUTION"),
        ("warning", "FIRST_RESPONSE"),
        ("breached", "FIRST_RESPONSE"),
        ("warning", "RESOLUTION"),
        ("breached", "RESOLUTION"),
    }
    assert set(watcher.keys()) == expected
    for key in expected:
        ids = {seen.event.meta.event_id for seen in watcher.seen if seen.key == key}
        assert len(ids) == 1, f"{key} decided more than once: {ids}"
    first_breach = next(s for s in watcher.seen if s.key == ("breached", "FIRST_RESPONSE"))
    assert due_ms(first_breach) == offset_ms(registered_at, FIRST_RESPONSE_S)
    # Alarms decided after the restart still belong to the request that created the case.
    correlations = {seen.event.meta.correlation_id for seen in watcher.seen}
    assert len(correlations) == 1 and "" not in correlations


async def test_replay_of_the_case_log_reproduces_the_published_sla_events(
    kafka_bootstrap: str,
    topics: Topics,
    producer: AIOKafkaProducer,
    services: ServiceLauncher,
    tmp_path: Path,
) -> None:
    start_sla(services, kafka_bootstrap, topics, tmp_path / "sla.sqlite3")
    quiet, paused = str(uuid.uuid4()), str(uuid.uuid4())
    async with SlaWatcher(kafka_bootstrap, topics.target, paused) as watcher:
        paused_case = chat_case(paused)
        await produce_created(producer, topics.source, chat_case(quiet))
        await produce_created(producer, topics.source, paused_case)
        steps = [Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, Status.IN_PROGRESS]
        for new in steps:
            await asyncio.sleep(1.0)
            await produce_status(producer, topics.source, paused_case, new)
        await watcher.until("breached", "RESOLUTION", timeout_s=40)
    await asyncio.sleep(2.0)  # the quiet case's resolution breached long before; let all settle
    published = await read_sla_events(kafka_bootstrap, topics.target, {quiet, paused})

    emitted = tmp_path / "replayed.jsonl"
    code = await asyncio.to_thread(
        replay_cli.main,
        ["what-if", "--policy", "test-seconds", "--bootstrap", kafka_bootstrap,
         "--topic", f"case={topics.source}", "--streams", "case", "--as-of", "now",
         "--emit", str(emitted), "--no-progress"],
    )  # fmt: skip
    replayed = {
        event.meta.event_id: event.SerializeToString()
        for event in map(_parse_sla_json, emitted.read_text().splitlines())
        if event.meta.case_id in {quiet, paused}
    }

    assert code == 0
    kinds = {sla_events.SlaEvent.FromString(v).WhichOneof("payload") for v in published.values()}
    assert kinds == {"started", "paused", "resumed", "met", "warning", "breached"}
    assert replayed == published


async def read_sla_events(bootstrap: str, topic: str, case_ids: set[str]) -> dict[str, bytes]:
    """Every SLA event of these cases on the topic now, by event id."""
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap)
    partitions = [TopicPartition(topic, p) for p in await topic_partitions(settings, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[str, bytes] = {}
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = sla_events.SlaEvent.FromString(record.value)
                    if event.meta.case_id in case_ids:
                        found[event.meta.event_id] = record.value
        return found
    finally:
        await consumer.stop()


def _parse_sla_json(line: str) -> sla_events.SlaEvent:
    return json_format.Parse(line, sla_events.SlaEvent())

"""The case timeline on a real secured Kafka and PostgreSQL.

The SLA service's and notify's events are built by their own wire code and published as their own
principals (`sla`, `notify`) to a private copy of their topics; the timeline reads them as the
`case` principal with the group its ACLs allow (casedesk_runtime.kafka_access), into a PostgreSQL
schema of its own. First in-process, where the test decides when the consumer dies: before the
batch is stored, and after it is stored but before its offsets are committed; restarted, it
neither loses nor doubles a fact. Then the case service itself (`python -m casedesk_case`),
killed with SIGKILL and started again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.utils import Environment
from support.provisioning import SecureKafka

from casedesk_case.adapters.timeline import case_timeline
from casedesk_case.adapters.timeline.consumer import TimelineConsumer, TimelineTopics
from casedesk_case.adapters.timeline.postgres import PostgresCaseTimeline
from casedesk_case.adapters.timeline.store import Entry, TimelineStore
from casedesk_case.application.timeline import ClockState, DayCounts, SlaClock
from casedesk_notify.application.deliveries import Delivery, RenderedMessage, SourceRecord
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.wire import journal
from casedesk_runtime import kafka_access
from casedesk_runtime.kafka import consumer_config
from casedesk_runtime.publishing import OutgoingRecord, Publisher, producer_starter
from casedesk_runtime.topics import TopicSpec, ensure_topics
from casedesk_sla.domain import DeadlineTarget, SlaFact, SlaKind
from casedesk_sla.domain.identity import fact_id
from casedesk_sla.wire.sla_events import event_type, sla_event
from casedesk_vocabulary.moscow import from_micros, in_moscow, to_micros
from casedesk_vocabulary.topics import CASE_EVENTS, NOTIFICATION_EVENTS, SLA_EVENTS

pytestmark = pytest.mark.integration

FIRST, RESOLUTION = DeadlineTarget.FIRST_RESPONSE, DeadlineTarget.RESOLUTION
HOUR_US = 3_600_000_000
# Early in a Moscow day, so that every instant of a case's story falls on that day.
T0 = to_micros(datetime(2026, 3, 2, 6, 0, tzinfo=UTC))


@dataclass(frozen=True)
class Wiring:
    kafka: SecureKafka
    topics: TimelineTopics
    group: str
    store_env: dict[str, str]  # eventsourcing's variables for the private schema
    prefix: str


@pytest.fixture
async def wiring(
    secure_kafka: SecureKafka, postgres_env: dict[str, str], postgres_dsn: str
) -> AsyncIterator[Wiring]:
    run = uuid.uuid4().hex[:8]
    prefix = f"timeline-{run}."
    topics = TimelineTopics(prefix + SLA_EVENTS, prefix + NOTIFICATION_EVENTS)
    admin = secure_kafka.connection()
    bootstrap = str(admin.pop("bootstrap_servers"))
    specs = (TopicSpec(topics.sla), TopicSpec(topics.notification), TopicSpec(prefix + CASE_EVENTS))
    await ensure_topics(bootstrap, specs, **admin)
    group = f"case-timeline-{run}"
    grants = kafka_access.grants(prefix, {"case": group})
    await kafka_access.apply(grants, **secure_kafka.connection())
    schema = f"timeline_{run}"
    await asyncio.to_thread(_sql, postgres_dsn, f"CREATE SCHEMA {schema}")
    env = {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    yield Wiring(secure_kafka, topics, group, env, prefix)
    await asyncio.to_thread(_sql, postgres_dsn, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(wiring: Wiring) -> Iterator[PostgresCaseTimeline]:
    factory = InfrastructureFactory.construct(Environment("", wiring.store_env))
    timeline = case_timeline(factory)
    assert isinstance(timeline, PostgresCaseTimeline)
    yield timeline
    factory.close()


# -- what the SLA service and notify publish ------------------------------------------------------


def sla_record(
    topic: str, case_id: str, kind: SlaKind, target: DeadlineTarget, at_h: float, due_h: float,
    late: bool = False,
) -> OutgoingRecord:  # fmt: skip
    """An SLA fact as the SLA service's outbox relay publishes it (its wire, its headers)."""
    due, at = T0 + int(due_h * HOUR_US), T0 + int(at_h * HOUR_US)
    fact = SlaFact(
        kind=kind, case_id=case_id, case_version=1, target=target, channel="PORTAL_CHAT",
        policy_version="test-hours", calendar_version="2026", due=due, at=at, run=0,
        event_id=fact_id(case_id, target, kind, due), causation_id=f"cause-{case_id}",
        tier="L1", late=late, warn_at=due - HOUR_US if kind is SlaKind.STARTED else None,
    )  # fmt: skip
    headers = (("event-type", event_type(fact).encode()), ("event-id", fact.event_id.encode()))
    return OutgoingRecord(topic, sla_event(fact).SerializeToString(), case_id.encode(), headers)


def notices(topic: str, case_id: str, at_h: float) -> list[OutgoingRecord]:
    """An SMS requested, failed once, then sent, as notify's journal records them."""
    delivery = Delivery(
        notification_id=f"{case_id}/sms", source_event_id=f"created-{case_id}", case_id=case_id,
        case_version=1, correlation_id="corr", channel=DeliveryChannel.SMS,
        recipient="+79161234567",
        message=RenderedMessage(template="acknowledgement@v1", text="Обращение принято",
                                sms_segments=1),
        source=SourceRecord("case.events.v1", 0, 0, case_id.encode(), b""),
    )  # fmt: skip
    moment = from_micros(T0 + int(at_h * HOUR_US))
    entries = [
        journal.requested(delivery, moment),
        journal.failed(delivery, 1, "gateway 503", True, moment, moment),
        journal.sent(delivery, 2, "gw-1", moment + timedelta(minutes=1)),
    ]
    return [OutgoingRecord(topic, e.value, e.key, tuple(e.headers)) for e in entries]


async def publish(kafka: SecureKafka, principal: str, records: Sequence[OutgoingRecord]) -> None:
    publisher = Publisher(
        producer_starter(kafka.service_settings(principal), f"test-{principal}"), name=principal
    )
    try:
        assert await publisher.deliver(records)
    finally:
        await publisher.aclose()


def opened(topic: str, case_id: str) -> list[OutgoingRecord]:
    """Both clocks start at opening: first response due in 4 h, resolution in 40 h."""
    return [
        sla_record(topic, case_id, SlaKind.STARTED, FIRST, 0, 4),
        sla_record(topic, case_id, SlaKind.STARTED, RESOLUTION, 0, 40),
    ]


# -- reading it back ------------------------------------------------------------------------------


class Crash(BaseException):
    """The process dies here: no handler of the consumer's loop catches it."""


class DyingStore(TimelineStore):
    """The real store, with the process dying before or after recording one batch."""

    def __init__(self, store: TimelineStore, before: bool) -> None:
        self._store, self._before = store, before

    def create_tables(self) -> None:
        self._store.create_tables()

    def record(self, entries: Sequence[Entry]) -> None:
        if self._before:
            raise Crash
        self._store.record(entries)
        raise Crash

    def clocks(self, case_ids: Any) -> Any:
        return self._store.clocks(case_ids)

    def facts(self, case_id: str) -> Any:
        return self._store.facts(case_id)

    def breaches_since(self, since: datetime) -> int:
        return self._store.breaches_since(since)

    def days(self, first: date, last: date) -> list[DayCounts]:
        return self._store.days(first, last)


def timeline_consumer(wiring: Wiring, store: TimelineStore) -> TimelineConsumer:
    config = consumer_config(wiring.kafka.service_settings("case"), wiring.group)
    return TimelineConsumer(lambda: AIOKafkaConsumer(**config), store, wiring.topics, poll_ms=200)


async def run_until(consumer: TimelineConsumer, done: Callable[[], Any], timeout_s: float = 60):
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(timeout_s):
            while not task.done() and not await done():
                await asyncio.sleep(0.2)
    finally:
        consumer.stop()
        await task


async def committed(wiring: Wiring) -> dict[str, int]:
    """The group's committed offsets, summed per topic."""
    admin = AIOKafkaAdminClient(**wiring.kafka.connection())  # type: ignore[arg-type]
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(wiring.group)
    finally:
        await admin.close()
    totals: dict[str, int] = {}
    for tp, meta in offsets.items():
        if meta.offset >= 0:
            totals[tp.topic] = totals.get(tp.topic, 0) + meta.offset
    return totals


def fact_count(store: TimelineStore, case_ids: Sequence[str]) -> int:
    return sum(len(sla) + len(sent) for sla, sent in map(store.facts, case_ids))


async def test_a_consumer_dying_before_or_after_storing_loses_and_doubles_nothing(
    wiring: Wiring, store: PostgresCaseTimeline
) -> None:
    topics = wiring.topics
    late, quick, reordered = (str(uuid.uuid4()) for _ in range(3))
    sla = [
        *opened(topics.sla, late),
        sla_record(topics.sla, late, SlaKind.WARNING, FIRST, 3, 4),
        sla_record(topics.sla, late, SlaKind.BREACHED, FIRST, 4, 4),
        *opened(topics.sla, quick),
        sla_record(topics.sla, quick, SlaKind.MET, FIRST, 1, 4),
        # Out of order: the breach first, the starts that came before it published after it.
        sla_record(topics.sla, reordered, SlaKind.BREACHED, FIRST, 4, 4),
        *opened(topics.sla, reordered),
    ]
    await publish(wiring.kafka, "sla", sla)
    await publish(wiring.kafka, "notify", notices(topics.notification, late, 0.1))
    expected_facts = 10 + 2  # every SLA event, and the notices failed and sent (not requested)

    # Dies while storing its first batch: nothing stored, nothing committed.
    await _dies(timeline_consumer(wiring, DyingStore(store, before=True)))
    assert fact_count(store, [late, quick, reordered]) == 0
    assert await committed(wiring) == {}
    # Dies after its first batch is stored, before committing it.
    await _dies(timeline_consumer(wiring, DyingStore(store, before=False)))
    stored = fact_count(store, [late, quick, reordered])
    assert stored > 0
    assert await committed(wiring) == {}

    async def caught_up() -> bool:
        return await committed(wiring) == {topics.sla: len(sla), topics.notification: 3}

    await run_until(timeline_consumer(wiring, store), caught_up)
    assert fact_count(store, [late, quick, reordered]) == expected_facts
    assert store.clocks([late, quick, reordered]) == {
        late: SlaClock(late, "FIRST_RESPONSE", ClockState.BREACHED, _at(4), _at(0)),
        quick: SlaClock(quick, "RESOLUTION", ClockState.RUNNING, _at(40), _at(0)),
        reordered: SlaClock(reordered, "FIRST_RESPONSE", ClockState.BREACHED, _at(4), _at(0)),
    }
    _, sent = store.facts(late)
    assert [(n.kind, n.recipient_masked, n.error) for n in sent] == [
        ("failed", "+***67", "gateway 503"), ("sent", "+***67", "")
    ]  # fmt: skip
    assert store.breaches_since(_at(0)) == 2
    day = in_moscow(_at(0)).date()
    assert store.days(day, day) == [DayCounts(day, met_on_time=1, met_late=0, breached=2)]


async def test_the_case_service_follows_the_topics_across_a_kill(
    wiring: Wiring, store: PostgresCaseTimeline, services: Any
) -> None:
    topics = wiring.topics
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await publish(wiring.kafka, "sla", opened(topics.sla, first))
    await publish(wiring.kafka, "notify", notices(topics.notification, first, 0.1))
    env = {
        **wiring.store_env,
        **wiring.kafka.service_env("case"),
        # The relay is on (the default), so the timeline follows without being asked to.
        "CASEDESK_CASE_EVENTS_TOPIC": wiring.prefix + CASE_EVENTS,
        "CASEDESK_SLA_EVENTS_TOPIC": topics.sla,
        "CASEDESK_NOTIFICATION_EVENTS_TOPIC": topics.notification,
        "CASEDESK_CASE_TIMELINE_GROUP": wiring.group,
        "CASEDESK_SHUTDOWN_GRACE_S": "1",
    }
    service = services("casedesk_case", env)
    running = SlaClock(first, "FIRST_RESPONSE", ClockState.RUNNING, _at(4), _at(0))
    await _until(lambda: store.clocks([first]) == {first: running} and
                 fact_count(store, [first]) == 4)  # fmt: skip

    service.kill()
    more = [
        sla_record(topics.sla, first, SlaKind.WARNING, FIRST, 3, 4),
        sla_record(topics.sla, first, SlaKind.BREACHED, FIRST, 4, 4),
        *opened(topics.sla, second),
    ]
    await publish(wiring.kafka, "sla", more)
    await asyncio.to_thread(service.start)

    async def caught_up() -> bool:
        return await committed(wiring) == {topics.sla: 6, topics.notification: 3}

    await _until(caught_up)
    assert store.clocks([first, second]) == {
        first: SlaClock(first, "FIRST_RESPONSE", ClockState.BREACHED, _at(4), _at(0)),
        second: SlaClock(second, "FIRST_RESPONSE", ClockState.RUNNING, _at(4), _at(0)),
    }
    assert fact_count(store, [first, second]) == 8
    assert store.breaches_since(_at(0)) == 1


async def _until(condition: Callable[[], Any], timeout_s: float = 60) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            outcome = condition()
            if asyncio.iscoroutine(outcome):
                outcome = await outcome
            if outcome:
                return
            await asyncio.sleep(0.2)


async def _dies(consumer: TimelineConsumer) -> None:
    with pytest.raises(Crash):
        await run_until(consumer, _never)


async def _never() -> bool:
    return False


def _at(hours: float) -> datetime:
    return from_micros(T0 + int(hours * HOUR_US))


def _sql(dsn: str, statement: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]  # a fixed, generated name

"""The SLA service killed while a refused case event's dead letter waits for the broker: the
record is read again after the restart, so its copy on the DLQ is not lost.

The dead-letter topic is created with a `max.message.bytes` smaller than any dead letter, so the
broker refuses every copy until the test raises it: the dead letter is never acknowledged while
the service runs the first time. (A `min.insync.replicas` above the replication factor would not
do: the broker caps it at the replicas there are.)
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from support.services import ServiceLauncher, ServiceProcess

from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Channel

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await client.start()
    yield client
    await client.close()


def stored_offset(db: Path) -> int | None:
    """The next offset the SLA store holds for the case topic (read-only, beside the service)."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (offset,) = connection.execute("SELECT max(next_offset) FROM sla_offset").fetchone()
    finally:
        connection.close()
    return offset


async def read_until(
    bootstrap: str, topic: str, done: Callable[[list[bytes]], bool], timeout_s: float = 60
) -> list[bytes]:
    """The values on the topic's one partition, from its start, once `done` says so or
    `timeout_s` is over."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        seen: list[bytes] = []
        deadline = time.monotonic() + timeout_s
        while not done(seen) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                seen.extend(record.value for record in records)
        return seen
    finally:
        await consumer.stop()


async def until_logged(service: ServiceProcess, line: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while line not in service.log_tail(200):
        assert time.monotonic() < deadline, f"never logged {line!r}:\n{service.log_tail()}"
        await asyncio.sleep(0.2)


def started_cases(values: list[bytes]) -> set[str]:
    events = map(sla_events.SlaEvent.FromString, values)
    return {e.meta.case_id for e in events if e.WhichOneof("payload") == "started"}


def starts_of(*case_ids: str) -> Callable[[list[bytes]], bool]:
    return lambda values: started_cases(values) >= set(case_ids)


def never(values: list[bytes]) -> bool:
    return False


async def test_a_kill_while_the_dead_letter_is_unacknowledged_loses_no_copy(
    kafka_bootstrap: str,
    admin: AIOKafkaAdminClient,
    services: ServiceLauncher,
    tmp_path: Path,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    source, target = f"case.events.v1.dlq-kill-{suffix}", f"sla.events.v1.dlq-kill-{suffix}"
    dlq = f"{source}.dlq.sla"
    await admin.create_topics(
        [
            NewTopic(source, 1, 1),
            NewTopic(target, 1, 1),
            NewTopic(dlq, 1, 1, topic_configs={"max.message.bytes": "16"}),
        ]
    )
    before, after = (str(uuid.uuid4()) for _ in range(2))
    refused = CaseStream(str(uuid.uuid4()), channel=Channel.PORTAL_CHAT).created()
    refused.created.channel = 0  # CHANNEL_UNSPECIFIED: the policy has no target for it
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:  # all three before the service starts: it reads them in one batch
        for event in (
            CaseStream(before, channel=Channel.PORTAL_CHAT).created(),
            refused,
            CaseStream(after, channel=Channel.PORTAL_CHAT).created(),
        ):
            await producer.send_and_wait(
                source, event.SerializeToString(), key=event.meta.case_id.encode()
            )
    finally:
        await producer.stop()
    db = tmp_path / "sla.sqlite3"
    sla = start_sla(services, kafka_bootstrap, source, target, db)

    # The record before the refused one is stored and its clocks published; the refused one
    # waits for its dead letter, and so does every record behind it.
    assert started_cases(await read_until(kafka_bootstrap, target, starts_of(before))) == {before}
    await until_logged(sla, "sla dead letters: publishing to Kafka failed")
    assert stored_offset(db) == 1
    assert started_cases(await read_until(kafka_bootstrap, target, never, 1)) == {before}
    sla.kill()
    assert stored_offset(db) == 1  # not passed: the restart reads the refused record again

    await admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, dlq, configs={"max.message.bytes": "1048588"})]
    )
    sla.start()
    [parked] = await read_until(kafka_bootstrap, dlq, bool)
    published = await read_until(kafka_bootstrap, target, starts_of(before, after))
    deadline = time.monotonic() + 30
    while stored_offset(db) != 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)

    assert parked == refused.SerializeToString()
    assert started_cases(published) == {before, after}
    assert stored_offset(db) == 3
    assert len(await read_until(kafka_bootstrap, dlq, never, 2)) == 1, "one dead letter"


def start_sla(
    services: ServiceLauncher, bootstrap: str, source: str, target: str, db: Path
) -> ServiceProcess:
    return services(
        "casedesk_sla",
        {
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "CASEDESK_SLA_POLICY_VERSION": "test-seconds",
            "CASEDESK_SLA_DB_PATH": str(db),
            "CASEDESK_CASE_EVENTS_TOPIC": source,
            "CASEDESK_SLA_EVENTS_TOPIC": target,
            "CASEDESK_SLA_CONSUMER_GROUP": f"sla-dlq-kill-{uuid.uuid4().hex[:8]}",
        },
    )

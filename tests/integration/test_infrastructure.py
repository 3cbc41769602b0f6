"""The test infrastructure itself: a real broker and a real event store behave as in production."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from grpc_health.v1 import health_pb2
from support.services import ServiceLauncher, ServiceStartError, health_status

pytestmark = pytest.mark.integration


async def test_idempotent_producer_round_trips_keys_values_and_per_key_order(
    kafka_bootstrap: str,
) -> None:
    topic = f"it.infrastructure.{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()

    case_ids = [f"case-{n}".encode() for n in range(4)]
    sent = [(case_ids[n % 4], f"event-{n}".encode()) for n in range(40)]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for key, value in sent:
            await producer.send(topic, value=value, key=key, headers=[("traceparent", b"00-test")])
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(sent):
                batch = await consumer.getmany(timeout_ms=1000)
                received.extend(record for records in batch.values() for record in records)
    finally:
        await consumer.stop()

    by_key: dict[bytes, list[bytes]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for record in received:
        assert record.key is not None and record.value is not None
        by_key[record.key].append(record.value)
        partitions[record.key].add(record.partition)
        assert record.headers == (("traceparent", b"00-test"),)
    for key in case_ids:
        assert by_key[key] == [value for sent_key, value in sent if sent_key == key]
        assert len(partitions[key]) == 1, "one key must always land on one partition"
    assert len(received) == len(sent)


class Ticket(Aggregate):
    """A test-local aggregate: just enough state to see events stored and replayed."""

    @event("Opened")
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.notes: list[str] = []

    @event("Noted")
    def note(self, text: str) -> None:
        self.notes.append(text)


class TicketDesk(Application):
    name = "InfraTicketDesk"

    def open(self, subject: str, notes: list[str]) -> uuid.UUID:
        ticket = Ticket(subject)
        for text in notes:
            ticket.note(text)
        self.save(ticket)
        return ticket.id

    def ticket(self, ticket_id: uuid.UUID) -> Ticket:
        return self.repository.get(ticket_id)


@pytest.fixture
def desk_env(postgres_env: dict[str, str]) -> Iterator[dict[str, str]]:
    yield {"PERSISTENCE_MODULE": "eventsourcing.postgres", **postgres_env}


def test_eventsourcing_stores_and_replays_events_in_postgres(
    desk_env: dict[str, str], postgres_dsn: str
) -> None:
    writer = TicketDesk(env=desk_env)
    ticket_id = writer.open("Не приходит SMS-код", ["позвонили", "код отправлен повторно"])
    writer.close()

    # A second application instance shares nothing with the first but the database.
    reader = TicketDesk(env=desk_env)
    try:
        ticket = reader.ticket(ticket_id)
    finally:
        reader.close()
    assert ticket.subject == "Не приходит SMS-код"
    assert ticket.notes == ["позвонили", "код отправлен повторно"]
    assert ticket.version == 3

    # The events really are rows in PostgreSQL, in the application's own table.
    with psycopg.connect(postgres_dsn) as connection:
        rows = connection.execute(
            "SELECT originator_version, topic FROM infraticketdesk_events"
            " WHERE originator_id = %s ORDER BY originator_version",
            (ticket_id,),
        ).fetchall()
    assert [(version, topic.rsplit(".", 1)[-1]) for version, topic in rows] == [
        (1, "Opened"),
        (2, "Noted"),
        (3, "Noted"),
    ]


SUPERVISED = "support.health_only_service"


@pytest.fixture
def supervised_env() -> dict[str, str]:
    # The child interpreter finds `support` the way this conftest does: via this directory.
    return {"PYTHONPATH": str(Path(__file__).resolve().parent)}


def test_service_process_is_serving_then_killed_then_restarted_on_the_same_address(
    services: ServiceLauncher, supervised_env: dict[str, str]
) -> None:
    service = services(SUPERVISED, supervised_env)
    assert health_status(service.address) == health_pb2.HealthCheckResponse.SERVING
    first_pid = service.pid

    service.kill()
    assert not service.running
    assert health_status(service.address) is None

    service.restart()
    assert service.running and service.pid != first_pid
    assert health_status(service.address) == health_pb2.HealthCheckResponse.SERVING
    assert service.log_tail().count(f"serving health on {service.address}") == 2

    assert service.terminate() is not None
    assert not service.running


def test_service_that_dies_at_start_reports_its_last_log_lines(
    services: ServiceLauncher, supervised_env: dict[str, str]
) -> None:
    env = {**supervised_env, "CASEDESK_FAIL_AT_START": "settings are invalid"}
    with pytest.raises(ServiceStartError, match="refusing to start: settings are invalid"):
        services(SUPERVISED, env, timeout=10)

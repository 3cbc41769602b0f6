"""The case service as a process on real PostgreSQL and Kafka: commands through gRPC, events on
case.events.v1 in order with every envelope field, history as of a version, live WatchCase."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_runtime.topics import ensure_topics

TOPIC = "case.events.v1"


@pytest.fixture
def case_env(
    postgres_env: dict[str, str], postgres_dsn: str, kafka_bootstrap: str
) -> Iterator[dict[str, str]]:
    """Environment of a case service on its own fresh PostgreSQL schema."""
    asyncio.run(ensure_topics(kafka_bootstrap))
    schema = f"case_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
        "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASEDESK_FOLLOW_IDLE_S": "0.1",
        "CASEDESK_SHUTDOWN_GRACE_S": "1",
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
async def stub_factory() -> AsyncIterator[Any]:
    channels: list[grpc.aio.Channel] = []

    def connect(address: str) -> case_service_pb2_grpc.CaseServiceStub:
        # A private subchannel pool: after a kill -9, gRPC's process-wide pool would hand a new
        # channel the old connection still in reconnect backoff, failing calls to the restarted
        # service with UNAVAILABLE for a while.
        private_pool = [("grpc.use_local_subchannel_pool", 1)]
        channel = grpc.aio.insecure_channel(address, options=private_pool)
        channels.append(channel)
        return case_service_pb2_grpc.CaseServiceStub(channel)

    yield connect
    for channel in channels:
        await channel.close()


def context(kind: int = types_pb2.Actor.SYSTEM, actor: str = "intake", key: str = "") -> Any:
    return pb.CommandContext(
        idempotency_key=key or str(uuid.uuid4()),
        actor=types_pb2.Actor(kind=kind, id=actor),  # type: ignore[arg-type]
        correlation_id=f"corr-{actor}",
    )


SPECIALIST = types_pb2.Actor.SPECIALIST
CITIZEN = types_pb2.Actor.CITIZEN


def create_request(login: str = "ivanov.ii") -> pb.CreateCaseRequest:
    return pb.CreateCaseRequest(
        context=context(),
        channel=types_pb2.PERSONAL_ACCOUNT,
        type=types_pb2.TECHNICAL,
        category=types_pb2.REGISTRATION_SIGN_IN,
        citizen=types_pb2.Citizen(account_login=login, mobile_phone="+79161234567"),
        content=types_pb2.CaseContent(subject="Не могу войти", description="Ошибка 500"),
    )


def change(case_id: str, action: int) -> pb.ChangeStatusRequest:
    return pb.ChangeStatusRequest(
        context=context(SPECIALIST, "l1-001"),
        case_id=case_id,
        action=action,  # type: ignore[arg-type]
    )


async def consume_events(
    bootstrap: str, case_ids: set[str], expected: int, timeout: float = 30.0
) -> list[tuple[Any, events_pb2.CaseEvent]]:
    """Records of these cases on case.events.v1, in log order per partition, until `expected`
    distinct events were seen (a re-publish after a crash repeats an event id: it must not count
    towards `expected`, or the reading would stop before the last events)."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[tuple[Any, events_pb2.CaseEvent]] = []
    distinct: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(distinct) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    event = events_pb2.CaseEvent.FromString(record.value)
                    if event.meta.case_id in case_ids:
                        found.append((record, event))
                        distinct.add(event.meta.event_id)
    finally:
        await consumer.stop()
    return found


async def history(stub: Any, case_id: str) -> list[events_pb2.CaseEvent]:
    page = await stub.GetHistory(pb.GetHistoryRequest(case_id=case_id, page_size=1000))
    return list(page.events)


async def test_commands_through_grpc_reach_kafka_in_order_with_full_envelopes(
    services: Any, case_env: dict[str, str], kafka_bootstrap: str, stub_factory: Any
) -> None:
    service = services("casedesk_case", case_env)
    stub = stub_factory(service.address)

    case = await stub.CreateCase(create_request())
    case_id = case.case_id
    await stub.ChangeStatus(change(case_id, pb.TAKE_IN_WORK))
    await stub.ChangeStatus(change(case_id, pb.ASK_CLARIFICATION))
    await stub.AddComment(
        pb.AddCommentRequest(
            context=context(CITIZEN, "ivanov.ii"),
            case_id=case_id,
            body="Номер заявления 123",
            public=True,  # type: ignore[arg-type]
        )
    )
    await stub.RequestEscalation(
        pb.RequestEscalationRequest(
            context=context(CITIZEN, "ivanov.ii"), case_id=case_id,  # type: ignore[arg-type]
            reason=events_pb2.UNSATISFYING_ANSWER,
        )
    )  # fmt: skip
    escalated = await stub.Escalate(
        pb.EscalateRequest(
            context=context(actor="escalation"), case_id=case_id, to_tier=types_pb2.L2,
            reason=events_pb2.UNSATISFYING_ANSWER, priority=types_pb2.HIGH,
        )
    )  # fmt: skip
    assert escalated.tier == types_pb2.L2 and escalated.assignee == "l2-001"
    # «Ответ готов» only once a specialist of the new tier has answered.
    await stub.AddComment(
        pb.AddCommentRequest(
            context=context(SPECIALIST, "l2-001"), case_id=case_id,
            body="Заявление найдено, статус обновлён", public=True,  # type: ignore[arg-type]
        )
    )  # fmt: skip
    await stub.ChangeStatus(change(case_id, pb.ANSWER_READY_ACTION))
    await stub.ChangeStatus(change(case_id, pb.CLOSE))
    repeat = await stub.RepeatCase(
        pb.RepeatCaseRequest(context=context(CITIZEN, "ivanov.ii"), case_id=case_id, reason="нет")  # type: ignore[arg-type]
    )

    stored = await history(stub, case_id) + await history(stub, repeat.case_id)
    published = await consume_events(kafka_bootstrap, {case_id, repeat.case_id}, len(stored))
    assert len(published) == len(stored)
    for ident in (case_id, repeat.case_id):
        mine = [e for _, e in published if e.meta.case_id == ident]
        assert [e.meta.case_version for e in mine] == list(range(1, len(mine) + 1))
    assert {e.meta.event_id: e for _, e in published} == {e.meta.event_id: e for e in stored}
    kinds = [e.WhichOneof("payload") for _, e in published if e.meta.case_id == case_id]
    assert kinds == [
        "created", "assigned", "status_changed", "status_changed", "commented", "status_changed",
        "escalation_requested", "escalated", "assigned", "commented", "status_changed",
        "status_changed", "repeated",
    ]  # fmt: skip
    for record, event in published:
        meta = event.meta
        assert record.key == meta.case_id.encode()
        assert (
            meta.event_id
            and meta.event_type
            == f"case.{type(getattr(event, event.WhichOneof('payload'))).__name__}"
        )
        assert meta.occurred_at.seconds > 0 and meta.actor.id and meta.causation_id
        assert meta.correlation_id.startswith("corr-")
        assert dict(record.headers)["traceparent"].startswith(b"00-")
    created = next(e for _, e in published if e.meta.case_id == repeat.case_id)
    assert created.created.repeat_of == case_id


async def test_get_as_of_and_watch_through_grpc(
    services: Any, case_env: dict[str, str], stub_factory: Any
) -> None:
    service = services("casedesk_case", {**case_env, "CASEDESK_RELAY_ENABLED": "false"})
    stub = stub_factory(service.address)
    case = await stub.CreateCase(create_request())
    watch = stub.WatchCase(pb.WatchCaseRequest(case_id=case.case_id, after_version=case.version))
    await stub.ChangeStatus(change(case.case_id, pb.TAKE_IN_WORK))
    delivered = await asyncio.wait_for(watch.read(), 10)
    assert delivered.status_changed.from_status == types_pb2.REGISTERED
    assert delivered.status_changed.to_status == types_pb2.IN_PROGRESS
    watch.cancel()
    then = await stub.GetCase(pb.GetCaseRequest(case_id=case.case_id, as_of_version=case.version))
    now = await stub.GetCase(pb.GetCaseRequest(number=case.number))
    assert (then.status, now.status) == (types_pb2.REGISTERED, types_pb2.IN_PROGRESS)
    at_creation = await stub.GetCase(
        pb.GetCaseRequest(case_id=case.case_id, as_of_time=case.updated_at)
    )
    assert at_creation.status == types_pb2.REGISTERED

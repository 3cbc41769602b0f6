"""The case service as a process on real PostgreSQL and Kafka: commands through gRPC, events on
case.events.v1 in order with every envelope field, history as of a version, live WatchCase; the
case index's queue reads (criteria, deadline order, its indexes and the category column added to
an index made before it) on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application import CommandMeta
from casedesk_case.application.timeline import ClockState
from casedesk_case.application.views import CaseFilter, CaseOrder
from casedesk_case.domain.values import (
    Actor,
    ActorKind,
    CaseContent,
    CaseType,
    Category,
    Channel,
    Citizen,
    EscalationReason,
    EventContext,
    Tier,
)
from casedesk_case.testing import CaseApplication
from casedesk_case.testing.case_timeline import FixedClocks
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


@pytest.fixture
def index_env(postgres_env: dict[str, str], postgres_dsn: str) -> Iterator[dict[str, str]]:
    """eventsourcing's variables for a case store on its own fresh PostgreSQL schema."""
    schema = f"queue_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    yield {
        **postgres_env,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_SCHEMA": schema,
    }
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


def test_the_queue_reads_of_the_case_index_on_postgresql(
    index_env: dict[str, str], postgres_dsn: str
) -> None:
    system = CommandMeta(EventContext(Actor(ActorKind.SYSTEM, "intake")))
    due = datetime(2026, 3, 2, 12, tzinfo=UTC)

    def new_case(app: CaseApplication, category: Category = Category.TECHNICAL_FAULT) -> str:
        return app.create_case(
            channel=Channel.EMAIL, case_type=CaseType.TECHNICAL, category=category,
            citizen=Citizen(account_login="ivanov.ii"), content=CaseContent(subject="Ошибка"),
            meta=system,
        ).case_id  # fmt: skip

    app = CaseApplication(env=index_env)
    try:
        ids = [new_case(app) for _ in range(5)]
        other = new_case(app, Category.SERVICE_DELIVERY)
        app.escalate(ids[4], to_tier=Tier.L3, reason=EscalationReason.CRITICAL_ERROR, meta=system)
        clocks = FixedClocks(app)
        clocks.set(ids[0], ClockState.RUNNING, due + timedelta(hours=3))
        clocks.set(ids[1], ClockState.BREACHED, due)
        clocks.set(ids[2], ClockState.NONE, due - timedelta(hours=1))  # met: no deadline
        clocks.set(ids[3], ClockState.PAUSED, due + timedelta(hours=1))
        CaseIndexProjector(app, app.index).catch_up()

        def pages(criteria: CaseFilter) -> list[str]:
            seen, token = [], ""
            while True:
                page = app.list_cases(criteria, page_size=2, page_token=token)
                seen += [c.case_id for c in page.cases]
                token = page.next_page_token
                if not token:
                    return seen

        by_deadline = CaseFilter(open_only=True, order=CaseOrder.DEADLINE)
        assert pages(by_deadline) == [ids[1], ids[3], ids[0], ids[2], ids[4], other]
        l1 = CaseFilter(within_tiers=frozenset({Tier.L1}), unassigned=True,
                        category=Category.TECHNICAL_FAULT, order=CaseOrder.DEADLINE)  # fmt: skip
        assert pages(l1) == [ids[1], ids[3], ids[0], ids[2]]
        first = app.list_cases(by_deadline).cases[0]
        assert (first.clock and first.clock.state, first.category) == (
            ClockState.BREACHED, Category.TECHNICAL_FAULT,
        )  # fmt: skip
        load = app.index.desk_load(app.roster_ids())
        technical = next(q for q in load.queues if q.queue == "l1-technical")
        assert (technical.open, technical.unassigned, technical.breached) == (4, 4, 1)
    finally:
        app.close()
    # An index made before the category column gets it at start; a rebuild fills it.
    schema = index_env["POSTGRES_SCHEMA"]
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"ALTER TABLE {schema}.case_index DROP COLUMN category")
    app = CaseApplication(env=index_env)
    try:
        assert app.list_cases(CaseFilter(category=Category.SERVICE_DELIVERY)).cases == []
        CaseIndexProjector(app, app.index).rebuild()
        (found,) = app.list_cases(CaseFilter(category=Category.SERVICE_DELIVERY)).cases
        assert found.case_id == other
    finally:
        app.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        indexes = connection.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s", [schema]
        ).fetchall()
    assert {"case_sla_running_deadline", "case_index_tier", "case_index_category"} <= {
        name for (name,) in indexes
    }

"""The escalation service as a real process on real Kafka, commanding a stand-in CaseService.

SLA and case events are produced directly, as the SLA service and the case relay would. The
stand-in serves CaseService over real gRPC, applies each idempotency key once and publishes the
resulting `Escalated` event back to the case topic, like the real case service. Every test has
its own topics (three partitions each), consumer group and store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from support.services import ServiceLauncher, ServiceProcess

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_escalation.testing import events
from casedesk_escalation.testing.case_standin import StandInCaseService, serve_standin
from casedesk_escalation.testing.journal import read_decisions
from casedesk_escalation.testing.policies import packaged_without_cooldown
from casedesk_escalation.wire import Topics
from casedesk_runtime.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
async def topics(kafka_bootstrap: str) -> Topics:
    suffix = uuid.uuid4().hex[:8]
    topics = Topics(
        f"case.events.v1.escalation-test-{suffix}",
        f"sla.events.v1.escalation-test-{suffix}",
        f"escalation.decisions.v1.escalation-test-{suffix}",
    )
    specs = [TopicSpec(name, partitions=3) for name in (topics.case, topics.sla, topics.decisions)]
    specs += [TopicSpec(f"{name}.dlq.escalation", partitions=1) for name in topics.consumed]
    await ensure_topics(kafka_bootstrap, tuple(specs))
    return topics


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def case_service(
    producer: AIOKafkaProducer, topics: Topics
) -> AsyncIterator[StandInCaseService]:
    servicer = StandInCaseService(producer=producer, topic=topics.case)
    server, _ = await serve_standin(servicer)
    yield servicer
    await server.stop(0)


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    """The packaged rules with the cooldown off: breaches here come seconds apart, not hours."""
    return packaged_without_cooldown(tmp_path, version="integration-no-cooldown")


@pytest.fixture
def start_escalation(
    services: ServiceLauncher,
    kafka_bootstrap: str,
    case_service: StandInCaseService,
    policy_file: Path,
    topics: Topics,
    tmp_path: Path,
) -> Callable[..., Awaitable[ServiceProcess]]:
    async def start(**extra: str) -> ServiceProcess:
        env = {
            "CASEDESK_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CASEDESK_CASE_ADDRESS": case_service.address,
            "CASEDESK_ESCALATION_CONSUMER_GROUP": f"escalation-test-{uuid.uuid4().hex[:8]}",
            "CASEDESK_ESCALATION_SQLITE_PATH": str(tmp_path / "escalation.sqlite"),
            "CASEDESK_ESCALATION_POLICY_FILE": str(policy_file),
            "CASEDESK_CASE_EVENTS_TOPIC": topics.case,
            "CASEDESK_SLA_EVENTS_TOPIC": topics.sla,
            "CASEDESK_ESCALATION_DECISIONS_TOPIC": topics.decisions,
            **extra,
        }
        # Off the event loop: the stand-in case service shares it and must keep answering.
        return await asyncio.to_thread(services, "casedesk_escalation", env)

    return start


async def send(producer: AIOKafkaProducer, topic: str, case_id: str, value: bytes) -> None:
    await producer.send_and_wait(topic, value, key=case_id.encode())


async def test_unanswered_chat_case_climbs_l1_l2_l3_and_stops_there(
    producer: AIOKafkaProducer,
    case_service: StandInCaseService,
    start_escalation: Callable[..., Awaitable[ServiceProcess]],
    kafka_bootstrap: str,
    topics: Topics,
) -> None:
    case_id = f"chat-{uuid.uuid4()}"
    now = datetime.now(UTC)
    await start_escalation()
    first_response_due, resolution_due = now + timedelta(minutes=5), now + timedelta(hours=2)
    await send(producer, topics.case, case_id, events.created(case_id, now))
    first_response = events.breached(
        case_id, sla_pb2.FIRST_RESPONSE, types_pb2.L1, first_response_due
    )
    await send(producer, topics.sla, case_id, first_response)
    first = await read_decisions(
        kafka_bootstrap, topics.decisions, {case_id}, lambda ds: len(ds) >= 1
    )
    # The SLA service sees the case at L2 when the resolution deadline passes.
    resolution = events.breached(case_id, sla_pb2.RESOLUTION, types_pb2.L2, resolution_due)
    await send(producer, topics.sla, case_id, resolution)
    await read_decisions(kafka_bootstrap, topics.decisions, {case_id}, lambda ds: len(ds) >= 2)
    # Nothing is left above L3: a later breach and the citizen's complaint are both refused.
    again = events.breached(
        case_id, sla_pb2.RESOLUTION, types_pb2.L3, resolution_due + timedelta(days=1)
    )
    await send(producer, topics.sla, case_id, again)
    complaint = events.escalation_requested(
        case_id, 9, resolution_due + timedelta(days=1), "req-1", events_pb2.NO_ANSWER_IN_TIME
    )
    await send(producer, topics.case, case_id, complaint)
    decisions = await read_decisions(
        kafka_bootstrap, topics.decisions, {case_id}, lambda ds: len(ds) >= 4
    )

    assert first[0].accepted and first[0].to_tier == types_pb2.L2
    assert [(d.accepted, d.from_tier, d.to_tier) for d in decisions[:2]] == [
        (True, types_pb2.L1, types_pb2.L2),
        (True, types_pb2.L2, types_pb2.L3),
    ]
    assert [d.accepted for d in decisions[2:]] == [False, False]
    assert all("never goes above L3" in d.explanation for d in decisions[2:])
    assert {d.policy_version for d in decisions} == {"integration-no-cooldown"}
    applied = case_service.applied_for(case_id)
    assert [(r.to_tier, r.reason) for r in applied] == [
        (types_pb2.L2, events_pb2.FIRST_RESPONSE_BREACH),
        (types_pb2.L3, events_pb2.RESOLUTION_BREACH),
    ]
    assert not any(r.callback_required for r in applied)  # a chat case: no callback
    assert case_service.cases[case_id].tier == types_pb2.L3


async def test_no_answer_in_time_within_the_deadline_is_rejected_and_journaled(
    producer: AIOKafkaProducer,
    case_service: StandInCaseService,
    start_escalation: Callable[..., Awaitable[ServiceProcess]],
    kafka_bootstrap: str,
    topics: Topics,
) -> None:
    case_id = f"phone-{uuid.uuid4()}"
    now = datetime.now(UTC)
    await start_escalation()
    due = now + timedelta(minutes=30)
    await send(producer, topics.case, case_id, events.created(case_id, now, types_pb2.PHONE))
    started = events.clock_started(case_id, sla_pb2.FIRST_RESPONSE, now, due, types_pb2.PHONE)
    await send(producer, topics.sla, case_id, started)
    early = events.escalation_requested(
        case_id, 2, now + timedelta(minutes=3), "req-early", events_pb2.NO_ANSWER_IN_TIME
    )
    await send(producer, topics.case, case_id, early)
    (decision,) = await read_decisions(
        kafka_bootstrap, topics.decisions, {case_id}, lambda ds: len(ds) >= 1
    )

    assert not decision.accepted
    assert decision.reason == events_pb2.NO_ANSWER_IN_TIME
    assert "no deadline of this case has been breached" in decision.explanation
    assert decision.trigger_event_id == f"{case_id}/v2"
    assert case_service.applied_for(case_id) == []
    assert [c for c in case_service.calls if c.case_id == case_id] == []


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_kill_9_mid_way_changes_nothing_in_the_outcome(
    store: str,
    request: pytest.FixtureRequest,
    producer: AIOKafkaProducer,
    case_service: StandInCaseService,
    start_escalation: Callable[..., Awaitable[ServiceProcess]],
    kafka_bootstrap: str,
    topics: Topics,
) -> None:
    extra = {"CASEDESK_ESCALATION_STORE": store}
    if store == "postgres":
        extra |= request.getfixturevalue("postgres_env")
    case_ids = [f"kill-{uuid.uuid4()}" for _ in range(30)]
    now = datetime.now(UTC)
    first_response_due, resolution_due = now + timedelta(minutes=5), now + timedelta(hours=2)
    deliveries = []
    for case_id in case_ids:
        for topic, value in [
            (topics.case, events.created(case_id, now)),
            (topics.sla, events.breached(case_id, sla_pb2.FIRST_RESPONSE, 1, first_response_due)),
            (topics.sla, events.breached(case_id, sla_pb2.RESOLUTION, 2, resolution_due)),
        ]:
            deliveries.append(await producer.send(topic, value, key=case_id.encode()))
    await asyncio.gather(*deliveries)
    # Slow enough that the kill lands while commands are committed but not all answered.
    case_service.delay_s = 0.2
    ours = set(case_ids)
    service = await start_escalation(**extra)
    async with asyncio.timeout(60):
        while sum(c.case_id in ours for c in case_service.calls) < 10:
            await asyncio.sleep(0.01)
    service.kill()
    answered_before_kill = sum(r.case_id in ours for r in case_service.applied.values())
    await asyncio.to_thread(service.start)
    decisions = await read_decisions(
        kafka_bootstrap,
        topics.decisions,
        ours,
        lambda ds: len(ds) >= 2 * len(case_ids),
        timeout_s=120,
    )
    await asyncio.sleep(1)  # room for anything that would be decided or sent twice

    assert answered_before_kill < 2 * len(case_ids), "the kill came too late to prove anything"
    # The command in flight at the kill was sent again after the restart, with the same key.
    ours_calls = [c for c in case_service.calls if c.case_id in ours]
    assert len(ours_calls) > len({c.context.idempotency_key for c in ours_calls})
    for case_id in case_ids:
        applied = case_service.applied_for(case_id)
        assert [r.to_tier for r in applied] == [types_pb2.L2, types_pb2.L3], case_id
        assert case_service.cases[case_id].tier == types_pb2.L3
    late = await read_decisions(
        kafka_bootstrap, topics.decisions, ours, lambda ds: len(ds) >= 2 * len(case_ids)
    )
    assert len(late) == len(decisions) == 2 * len(case_ids)
    assert all(d.accepted for d in decisions)
    assert len({d.trigger_event_id for d in decisions}) == len(decisions)


async def test_no_answer_request_read_before_its_breach_waits_for_the_sla_stream(
    producer: AIOKafkaProducer,
    case_service: StandInCaseService,
    start_escalation: Callable[..., Awaitable[ServiceProcess]],
    kafka_bootstrap: str,
    topics: Topics,
) -> None:
    case_id = f"race-{uuid.uuid4()}"
    now = datetime.now(UTC)
    due = now - timedelta(minutes=1)
    # A backlog of SLA events ahead of the breach, so that a fresh consumer reaches the request
    # on case.events.v1 long before the breach on sla.events.v1.
    deliveries = []
    for n in range(3000):
        filler = f"filler-{uuid.uuid4()}"
        started = events.clock_started(filler, sla_pb2.FIRST_RESPONSE, now, now, n % 7)
        deliveries.append(await producer.send(topics.sla, started, key=filler.encode()))
    await asyncio.gather(*deliveries)
    await send(producer, topics.case, case_id, events.created(case_id, now - timedelta(minutes=10)))
    await send(
        producer, topics.sla, case_id, events.breached(case_id, sla_pb2.FIRST_RESPONSE, 1, due)
    )
    complaint = events.escalation_requested(
        case_id, 2, now, "req-late", events_pb2.NO_ANSWER_IN_TIME
    )
    await send(producer, topics.case, case_id, complaint)
    await start_escalation()
    decisions = await read_decisions(
        kafka_bootstrap, topics.decisions, {case_id}, lambda ds: len(ds) >= 2
    )

    by_reason = {d.reason: d for d in decisions}
    breach = by_reason[events_pb2.FIRST_RESPONSE_BREACH]
    request = by_reason[events_pb2.NO_ANSWER_IN_TIME]
    assert breach.accepted and breach.to_tier == types_pb2.L2
    # Judged after the breach, not rejected for want of it: it asks for the next tier, L3.
    assert "breached" not in request.explanation
    assert request.accepted and request.to_tier == types_pb2.L3

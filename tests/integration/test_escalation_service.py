"""Escalation with the real case and SLA services, on real Kafka and PostgreSQL.

The case service (event store on its own PostgreSQL schema) publishes case events; the SLA service
runs the `test-seconds` policy (chat: first response 4 s, resolution 8 s) and publishes breaches;
the escalation service decides and calls the case service's Escalate. Each test starts the three
with support/system.py on its own copy of the topics, so they see only the cases of that test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from support.people import Keycloak
from support.provisioning import SecureKafka
from support.system import Casedesk, start_casedesk

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk_escalation.testing.journal import read_decisions

pytestmark = pytest.mark.integration
Decisions = list[escalation_pb2.EscalationDecision]


@pytest.fixture
def sla_policy() -> str:
    """The policy sla runs; a test choosing another parametrizes `sla_policy`."""
    return "test-seconds"


@pytest.fixture
async def casedesk(
    secure_kafka: SecureKafka,
    keycloak: Keycloak,
    postgres_env: dict[str, str],
    postgres_dsn: str,
    tmp_path: Path,
    sla_policy: str,
) -> AsyncIterator[Casedesk]:
    async with start_casedesk(
        secure_kafka,
        postgres_env,
        postgres_dsn,
        tmp_path,
        keycloak=keycloak,
        services=("case", "sla", "escalation"),
        settings={"sla": {"CASEDESK_SLA_POLICY_VERSION": sla_policy}},
    ) as system:
        yield system


@pytest.fixture
async def cases(casedesk: Casedesk) -> AsyncIterator[case_service_pb2_grpc.CaseServiceStub]:
    """The case service as intake calls it (citizens' cases and complaints)."""
    async with casedesk.channel("case", caller="intake") as channel:
        yield case_service_pb2_grpc.CaseServiceStub(channel)


@pytest.fixture
async def desk(casedesk: Casedesk) -> AsyncIterator[case_service_pb2_grpc.CaseServiceStub]:
    """The case service as the desk calls it for an auditor (a case's history)."""
    async with casedesk.channel("case", caller="desk", person="audit.kuznetsov") as channel:
        yield case_service_pb2_grpc.CaseServiceStub(channel)


@pytest.fixture
def journal(casedesk: Casedesk) -> Callable[..., Awaitable[Decisions]]:
    async def at_least(case_ids: set[str], count: int, timeout_s: float = 60.0) -> Decisions:
        return await read_decisions(
            casedesk.kafka.connection(),
            casedesk.topics.decisions,
            case_ids,
            lambda ds: len(ds) >= count,
            timeout_s,
        )

    return at_least


def command(actor: int = types_pb2.Actor.SYSTEM, actor_id: str = "intake") -> pb.CommandContext:
    return pb.CommandContext(
        idempotency_key=str(uuid.uuid4()), actor=types_pb2.Actor(kind=actor, id=actor_id)
    )


async def open_chat_case(cases: case_service_pb2_grpc.CaseServiceStub) -> str:
    view = await cases.CreateCase(
        pb.CreateCaseRequest(
            context=command(),
            channel=types_pb2.PORTAL_CHAT,
            type=types_pb2.TECHNICAL,
            category=types_pb2.REGISTRATION_SIGN_IN,
            citizen=types_pb2.Citizen(account_login="petrova.an", mobile_phone="+79161234567"),
            content=types_pb2.CaseContent(subject="Не приходит СМС-код", description="Жду час"),
        )
    )
    return view.case_id


async def escalations(cases: case_service_pb2_grpc.CaseServiceStub, case_id: str) -> list:
    page = await cases.GetHistory(pb.GetHistoryRequest(case_id=case_id, page_size=1000))
    return [e.escalated for e in page.events if e.WhichOneof("payload") == "escalated"]


async def test_unanswered_chat_case_escalates_l1_l2_l3_and_stops_there(
    cases: case_service_pb2_grpc.CaseServiceStub,
    desk: case_service_pb2_grpc.CaseServiceStub,
    journal: Callable[..., Awaitable[Decisions]],
) -> None:
    case_id = await open_chat_case(cases)
    ladder = await journal({case_id}, 2)
    complaint = pb.RequestEscalationRequest(
        context=command(types_pb2.Actor.CITIZEN, "petrova.an"),
        case_id=case_id,
        reason=events_pb2.NO_ANSWER_IN_TIME,
    )
    await cases.RequestEscalation(complaint)
    decisions = await journal({case_id}, 3)

    assert [(d.reason, d.accepted, d.from_tier, d.to_tier) for d in ladder] == [
        (events_pb2.FIRST_RESPONSE_BREACH, True, types_pb2.L1, types_pb2.L2),
        (events_pb2.RESOLUTION_BREACH, True, types_pb2.L2, types_pb2.L3),
    ]
    refused = decisions[2]
    assert refused.reason == events_pb2.NO_ANSWER_IN_TIME and not refused.accepted
    assert "never goes above L3" in refused.explanation
    view = await cases.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert view.tier == types_pb2.L3
    recorded = await escalations(desk, case_id)
    assert [(e.to_tier, e.cause_ref) for e in recorded] == [
        (types_pb2.L2, ladder[0].trigger_event_id),
        (types_pb2.L3, ladder[1].trigger_event_id),
    ]
    assert not any(e.callback_required for e in recorded)  # chat, not phone


@pytest.mark.parametrize("sla_policy", ["2023.1"])  # chat: first answer due in 5 minutes
async def test_no_answer_in_time_within_the_deadline_is_rejected_and_journaled(
    cases: case_service_pb2_grpc.CaseServiceStub,
    desk: case_service_pb2_grpc.CaseServiceStub,
    journal: Callable[..., Awaitable[Decisions]],
) -> None:
    case_id = await open_chat_case(cases)
    await cases.RequestEscalation(
        pb.RequestEscalationRequest(
            context=command(types_pb2.Actor.CITIZEN, "petrova.an"),
            case_id=case_id,
            reason=events_pb2.NO_ANSWER_IN_TIME,
            explanation="Никто не отвечает",
        )
    )
    (decision,) = await journal({case_id}, 1)

    assert decision.reason == events_pb2.NO_ANSWER_IN_TIME and not decision.accepted
    assert "no deadline of this case has been breached" in decision.explanation
    assert decision.from_tier == types_pb2.L1
    view = await cases.GetCase(pb.GetCaseRequest(case_id=case_id))
    assert view.tier == types_pb2.L1
    assert await escalations(desk, case_id) == []


async def test_kill_9_of_the_escalation_service_mid_way_changes_nothing(
    casedesk: Casedesk,
    cases: case_service_pb2_grpc.CaseServiceStub,
    desk: case_service_pb2_grpc.CaseServiceStub,
    journal: Callable[..., Awaitable[Decisions]],
) -> None:
    escalation = casedesk.escalation
    case_ids = {await open_chat_case(cases) for _ in range(8)}
    before_kill = await journal(case_ids, 1)  # the first breaches are being decided
    escalation.kill()
    await asyncio.sleep(1)
    await asyncio.to_thread(escalation.start)
    decisions = await journal(case_ids, 2 * len(case_ids), timeout_s=90)
    await asyncio.sleep(2)  # room for anything decided or escalated twice to show up

    assert len(before_kill) < 2 * len(case_ids), "the kill came too late to prove anything"
    assert len(decisions) == 2 * len(case_ids)
    assert all(d.accepted for d in decisions)
    for case_id in case_ids:
        view = await cases.GetCase(pb.GetCaseRequest(case_id=case_id))
        assert view.tier == types_pb2.L3, case_id
        recorded = await escalations(desk, case_id)
        assert [e.to_tier for e in recorded] == [types_pb2.L2, types_pb2.L3], case_id
    assert len(await journal(case_ids, 2 * len(case_ids))) == 2 * len(case_ids)

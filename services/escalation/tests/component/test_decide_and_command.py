"""Desk, store and command runner together, against a stand-in CaseService over real gRPC."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_escalation import wire
from casedesk_escalation.adapters.case_service import CaseEscalator
from casedesk_escalation.adapters.persistence.dialects import sqlite_dialect
from casedesk_escalation.adapters.persistence.sql_store import SqlDecisionStore
from casedesk_escalation.adapters.policy_file import load_policy
from casedesk_escalation.application.command_runner import CommandRunner
from casedesk_escalation.application.desk import Consumed, EscalationDesk
from casedesk_escalation.testing.case_standin import StandInCaseService, serve_standin
from casedesk_runtime.events import new_meta, to_timestamp
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Channel, EscalationReason

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GROUP = "g"
ENCODING = wire.ProtobufDecisions()


@pytest.fixture
async def case_service() -> AsyncIterator[tuple[StandInCaseService, str]]:
    servicer = StandInCaseService()
    server, address = await serve_standin(servicer)
    yield servicer, address
    await server.stop(0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlDecisionStore]:
    store = SqlDecisionStore(sqlite_dialect(str(tmp_path / "e.sqlite")))
    await store.open()
    yield store
    await store.close()


class Feed:
    """Builds consumed records with increasing offsets per partition."""

    def __init__(self) -> None:
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)

    def _consumed(self, topic: str, value: bytes) -> Consumed:
        partition = (topic, 0)
        offset = self.offsets[partition]
        self.offsets[partition] += 1
        return Consumed(partition, offset, wire.read_record(wire.Topics(), topic, value))

    def case(self, event: events_pb2.CaseEvent) -> Consumed:
        return self._consumed(wire.CASE_TOPIC, event.SerializeToString())

    def opened(self, case_id: str) -> Consumed:
        return self.case(phone_case(case_id).created())

    def breach(self, case_id: str, target: int, tier: int, minutes: int) -> Consumed:
        at = T0 + timedelta(minutes=minutes)
        meta = new_meta(
            case_id, 1, "sla.Breached", event_id=f"{case_id}-b{minutes}", occurred_at=at
        )
        value = sla_pb2.SlaEvent(
            meta=meta,
            target=target,
            channel=types_pb2.PHONE,
            due_at=to_timestamp(at),
            breached=sla_pb2.Breached(fired_at=to_timestamp(at), tier=tier),
        ).SerializeToString()
        return self._consumed(wire.SLA_TOPIC, value)


def phone_case(case_id: str) -> CaseStream:
    return CaseStream(case_id, channel=Channel.PHONE, at=T0)


def journal(records) -> list[escalation_pb2.EscalationDecision]:
    return [escalation_pb2.EscalationDecision.FromString(r.record) for r in records]


async def test_breaches_escalate_by_command_and_every_decision_is_journaled(
    store: SqlDecisionStore, case_service: tuple[StandInCaseService, str]
) -> None:
    servicer, address = case_service
    desk = EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING)
    feed = Feed()
    items = [
        feed.opened("c1"),
        feed.breach("c1", sla_pb2.FIRST_RESPONSE, types_pb2.L1, minutes=30),
        feed.breach("c1", sla_pb2.RESOLUTION, types_pb2.L2, minutes=24 * 60),
        feed.breach("c1", sla_pb2.RESOLUTION, types_pb2.L3, minutes=25 * 60),
    ]
    batch = await desk.decide(items, stored={})
    await store.commit(GROUP, batch)
    async with grpc.aio.insecure_channel(address) as channel:
        runner = CommandRunner(store, CaseEscalator(channel, first_backoff_s=0.01), 4, ENCODING)
        assert await runner.run_pending() == 2

    assert [(c.to_tier, c.reason, c.callback_required) for c in servicer.calls] == [
        (types_pb2.L2, events_pb2.FIRST_RESPONSE_BREACH, True),
        (types_pb2.L3, events_pb2.RESOLUTION_BREACH, True),
    ]
    assert len({c.context.idempotency_key for c in servicer.calls}) == 2
    decisions = journal(await store.unpublished())
    assert [(d.accepted, d.to_tier) for d in decisions] == [
        (True, types_pb2.L2),
        (True, types_pb2.L3),
        (False, types_pb2.TIER_UNSPECIFIED),
    ]
    assert "never goes above L3" in decisions[2].explanation
    assert batch.offsets == {(wire.CASE_TOPIC, 0): (None, 1), (wire.SLA_TOPIC, 0): (None, 3)}


async def test_refusal_by_the_case_service_is_journaled_as_a_rejection(
    store: SqlDecisionStore, case_service: tuple[StandInCaseService, str]
) -> None:
    servicer, address = case_service
    servicer.script["c2"] = [grpc.StatusCode.FAILED_PRECONDITION]
    desk = EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING)
    feed = Feed()
    items = [
        feed.opened("c2"),
        feed.breach("c2", sla_pb2.FIRST_RESPONSE, 1, 30),
    ]
    await store.commit(GROUP, await desk.decide(items, stored={}))
    async with grpc.aio.insecure_channel(address) as channel:
        await CommandRunner(store, CaseEscalator(channel), 4, ENCODING).run_pending()

    (decision,) = journal(await store.unpublished())
    assert not decision.accepted
    assert "but not carried out: refused by the case service (FAILED_PRECONDITION)" in (
        decision.explanation
    )
    assert await store.pending_commands() == []


async def test_unavailable_case_service_is_retried_with_the_same_key_until_it_answers(
    store: SqlDecisionStore, case_service: tuple[StandInCaseService, str]
) -> None:
    servicer, address = case_service
    servicer.script["c3"] = [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED]
    desk = EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING)
    feed, c3 = Feed(), phone_case("c3")
    items = [
        feed.case(c3.created()),
        feed.case(
            c3.escalation_requested(request_id="r-1", reason=EscalationReason.CRITICAL_ERROR)
        ),
    ]
    await store.commit(GROUP, await desk.decide(items, stored={}))
    async with grpc.aio.insecure_channel(address) as channel:
        await CommandRunner(
            store, CaseEscalator(channel, first_backoff_s=0.01), 4, ENCODING
        ).run_pending()

    assert len(servicer.calls) == 3
    assert len({c.context.idempotency_key for c in servicer.calls}) == 1
    assert servicer.calls[-1].priority == types_pb2.CRITICAL
    (decision,) = journal(await store.unpublished())
    assert decision.accepted and decision.to_tier == types_pb2.L2


async def test_unexpected_errors_are_retried_a_bounded_number_of_times(
    store: SqlDecisionStore, case_service: tuple[StandInCaseService, str]
) -> None:
    servicer, address = case_service
    servicer.script["c4"] = [grpc.StatusCode.INTERNAL] * 5
    desk = EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING)
    feed = Feed()
    items = [
        feed.opened("c4"),
        feed.breach("c4", sla_pb2.FIRST_RESPONSE, 1, 30),
    ]
    await store.commit(GROUP, await desk.decide(items, stored={}))
    async with grpc.aio.insecure_channel(address) as channel:
        escalator = CaseEscalator(channel, attempts_on_error=3, first_backoff_s=0.01)
        await CommandRunner(store, escalator, 4, ENCODING).run_pending()

    assert len(servicer.calls) == 3
    (decision,) = journal(await store.unpublished())
    assert not decision.accepted and "failed 3 times (INTERNAL)" in decision.explanation


async def test_decisions_continue_from_stored_state_after_a_restart(
    store: SqlDecisionStore,
) -> None:
    feed = Feed()
    first = EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING)
    items = [
        feed.opened("c5"),
        feed.breach("c5", sla_pb2.FIRST_RESPONSE, 1, 30),
    ]
    await store.commit(GROUP, await first.decide(items, stored={}))
    # A new process: nothing cached, state comes from the store.
    again = EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING)
    redelivered = feed.breach("c5", sla_pb2.FIRST_RESPONSE, 1, 30)  # the same event id
    re_emitted = feed.breach("c5", sla_pb2.FIRST_RESPONSE, 1, 30)
    re_emitted = Consumed(
        re_emitted.partition,
        re_emitted.offset,
        wire.Observation(
            "c5",
            re_emitted.observation.facts,
            dataclasses.replace(re_emitted.observation.trigger, event_id="other-id"),
        ),
    )
    batch = await again.decide([redelivered, re_emitted], stored=await store.offsets(GROUP))
    (entry,) = batch.entries  # the redelivery gets no decision at all
    decision = escalation_pb2.EscalationDecision.FromString(entry.record)
    assert decision.trigger_event_id == "other-id"
    assert not decision.accepted and decision.explanation.startswith("duplicate")
    assert entry.command is None
    assert batch.offsets[(wire.SLA_TOPIC, 0)] == (1, 3)

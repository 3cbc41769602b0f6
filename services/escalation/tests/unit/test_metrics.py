"""Escalations by tier and decisions by outcome, scraped; counted once their batch committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as sla_pb2
from casedesk_escalation import wire
from casedesk_escalation.adapters.persistence.dialects import sqlite_dialect
from casedesk_escalation.adapters.persistence.sql_store import SqlDecisionStore
from casedesk_escalation.adapters.policy_file import load_policy
from casedesk_escalation.application.desk import Consumed, EscalationDesk
from casedesk_escalation.application.escalations import Escalations
from casedesk_runtime.events import new_meta, to_timestamp
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_runtime.testing.metrics import Scrape, scrape
from casedesk_vocabulary.enums import Channel

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ESCALATIONS = "casedesk_escalation_escalations_total"
DECISIONS = "casedesk_escalation_decisions_total"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlDecisionStore]:
    store = SqlDecisionStore(sqlite_dialect(str(tmp_path / "e.sqlite")))
    await store.open()
    yield store
    await store.close()


def _consumed(topic: str, offset: int, value: bytes) -> Consumed:
    return Consumed((topic, 0), offset, wire.read_record(wire.Topics(), topic, value))


def _breach(case_id: str, offset: int, target: Any, tier: Any, minutes: int) -> Consumed:
    at = T0 + timedelta(minutes=minutes)
    meta = new_meta(case_id, 1, "sla.Breached", event_id=f"{case_id}-b{minutes}", occurred_at=at)
    event = sla_pb2.SlaEvent(
        meta=meta,
        target=target,
        channel=types_pb2.PHONE,
        due_at=to_timestamp(at),
        breached=sla_pb2.Breached(fired_at=to_timestamp(at), tier=tier),
    )
    return _consumed(wire.SLA_TOPIC, offset, event.SerializeToString())


def _escalations(store: SqlDecisionStore) -> Escalations:
    desk = EscalationDesk(load_policy(), store, 10, wire.ProtobufDecisions())
    # Sending and publishing are not part of deciding and committing.
    return Escalations(store, desk, commands=None, journal=None, group="g")  # type: ignore[arg-type]


def _delta(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


async def test_committed_escalations_are_counted_by_tier_and_reason(
    store: SqlDecisionStore,
) -> None:
    created = CaseStream("metrics-c1", channel=Channel.PHONE, at=T0).created()
    items = [
        _consumed(wire.CASE_TOPIC, 0, created.SerializeToString()),
        _breach("metrics-c1", 0, sla_pb2.FIRST_RESPONSE, types_pb2.L1, minutes=30),
        _breach("metrics-c1", 1, sla_pb2.RESOLUTION, types_pb2.L2, minutes=24 * 60),
        _breach("metrics-c1", 2, sla_pb2.RESOLUTION, types_pb2.L3, minutes=25 * 60),  # refused
    ]
    before = scrape()
    assert await _escalations(store).decide_and_commit(items, stored={}) is not None
    after = scrape()

    first = {"from_tier": "L1", "to_tier": "L2", "reason": "FIRST_RESPONSE_BREACH"}
    second = {"from_tier": "L2", "to_tier": "L3", "reason": "RESOLUTION_BREACH"}
    assert _delta(before, after, ESCALATIONS, **first) == 1
    assert _delta(before, after, ESCALATIONS, **second) == 1
    assert _delta(before, after, ESCALATIONS) == 2  # the refused one is no escalation
    outcome = {"reason": "RESOLUTION_BREACH"}
    assert _delta(before, after, DECISIONS, **outcome, accepted="true") == 1
    assert _delta(before, after, DECISIONS, **outcome, accepted="false") == 1
    label_sets = after.label_sets(ESCALATIONS)
    assert all(set(labels) == {"from_tier", "to_tier", "reason"} for labels in label_sets)


async def test_a_batch_discarded_at_commit_is_not_counted(store: SqlDecisionStore) -> None:
    escalations = _escalations(store)
    created = CaseStream("metrics-c2", channel=Channel.PHONE, at=T0).created()
    opened = _consumed(wire.CASE_TOPIC, 0, created.SerializeToString())
    await escalations.decide_and_commit([opened], stored={})
    before = scrape()
    # Decided from offsets another consumer has moved on from meanwhile: discarded, read again.
    stale = [_breach("metrics-c2", 0, sla_pb2.FIRST_RESPONSE, types_pb2.L1, minutes=30)]
    late = [_consumed(wire.CASE_TOPIC, 0, created.SerializeToString()), *stale]
    assert await escalations.decide_and_commit(late, stored={}) is None
    assert _delta(before, scrape(), DECISIONS) == 0

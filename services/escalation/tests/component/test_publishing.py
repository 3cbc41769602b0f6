"""The journal and the dead letters through a Publisher: nothing is marked done before an ack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiokafka import TopicPartition

from casedesk_escalation.adapters.case_service import CaseEscalator
from casedesk_escalation.adapters.kafka.consumer import EscalationConsumer
from casedesk_escalation.adapters.kafka.journal_topic import KafkaJournalTopic
from casedesk_escalation.adapters.persistence.dialects import sqlite_dialect
from casedesk_escalation.adapters.persistence.sql_store import SqlDecisionStore
from casedesk_escalation.adapters.policy_file import load_policy
from casedesk_escalation.application.command_runner import CommandRunner
from casedesk_escalation.application.desk import EscalationDesk
from casedesk_escalation.application.escalations import Escalations
from casedesk_escalation.application.journal_relay import DecisionJournal
from casedesk_escalation.application.records import DecidedBatch, JournalEntry
from casedesk_escalation.wire import ProtobufDecisions, Topics
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_runtime.testing.kafka import FakeKafka

GROUP = "g"
TOPICS = Topics()
ENCODING = ProtobufDecisions()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlDecisionStore]:
    store = SqlDecisionStore(sqlite_dialect(str(tmp_path / "e.sqlite")))
    await store.open()
    yield store
    await store.close()


async def journal_entries(store: SqlDecisionStore, count: int) -> list[str]:
    ids = [f"d{n}" for n in range(count)]
    entries = [JournalEntry(i, f"case-{n % 2}", f"record-{i}".encode()) for n, i in enumerate(ids)]
    await store.commit(
        GROUP, DecidedBatch(entries=entries, offsets={(TOPICS.sla, 0): (None, count)})
    )
    return ids


async def test_the_journal_waits_out_an_outage_and_marks_rows_only_once_acknowledged(
    store: SqlDecisionStore,
) -> None:
    kafka = FakeKafka(down=True)
    ids = await journal_entries(store, 3)
    journal = DecisionJournal(store, KafkaJournalTopic(kafka.publisher(), TOPICS.decisions))

    publishing = asyncio.create_task(journal.publish_pending(page=2))
    await kafka.until_failures(3)
    assert len(await store.unpublished()) == 3
    kafka.down = False

    assert await asyncio.wait_for(publishing, 5) == 3
    assert [w.value for w in kafka.written] == [f"record-{i}".encode() for i in ids]
    assert [w.key for w in kafka.written] == [b"case-0", b"case-1", b"case-0"]
    assert {w.topic for w in kafka.written} == {TOPICS.decisions}
    assert await store.unpublished() == []


async def test_a_closed_publisher_leaves_the_journal_for_the_next_run(
    store: SqlDecisionStore,
) -> None:
    kafka = FakeKafka(down=True)
    await journal_entries(store, 2)
    publisher = kafka.publisher()
    journal = DecisionJournal(store, KafkaJournalTopic(publisher, TOPICS.decisions))

    publishing = asyncio.create_task(journal.publish_pending())
    await kafka.until_failures(1)
    publisher.close()

    assert await asyncio.wait_for(publishing, 5) == 0
    assert len(await store.unpublished()) == 2


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class FakeConsumer:
    """What one step of EscalationConsumer needs of an AIOKafkaConsumer."""

    batch: dict[TopicPartition, list[Record]]
    committed: list[dict[TopicPartition, int]] = field(default_factory=list)

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        batch, self.batch = self.batch, {}
        return batch

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(TOPICS.case, 0), TopicPartition(TOPICS.sla, 0)}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(offsets)


async def test_a_poisoned_record_commits_its_batch_only_after_the_dead_letter_is_acknowledged(
    store: SqlDecisionStore,
) -> None:
    case_tp = TopicPartition(TOPICS.case, 0)
    created = CaseStream("c1", at=T0).created().SerializeToString()
    source = FakeConsumer(
        {
            case_tp: [
                Record(TOPICS.case, 0, 0, b"c1", created),
                Record(TOPICS.case, 0, 1, b"c1", b"\xff garbage", (("traceparent", b"t"),)),
            ]
        }
    )
    kafka = FakeKafka(refuse_starts=1, fail_sends=1)  # fails twice, then goes through
    async with grpc.aio.insecure_channel("127.0.0.1:9") as channel:  # never called here
        consumer = EscalationConsumer(
            consumer=source,  # type: ignore[arg-type]
            publisher=kafka.publisher(),
            escalations=Escalations(
                store=store,
                desk=EscalationDesk(load_policy(), store, cache_size=10, encoding=ENCODING),
                commands=CommandRunner(store, CaseEscalator(channel), 4, ENCODING),
                journal=DecisionJournal(
                    store, KafkaJournalTopic(kafka.publisher(), TOPICS.decisions)
                ),
                group=GROUP,
            ),
            topics=TOPICS,
            batch_max=100,
            breach_wait_s=0,
        )
        step = asyncio.create_task(consumer._step())
        await kafka.until_failures(2)
        assert await store.offsets(GROUP) == {}  # the batch waits for the dead letter
        await asyncio.wait_for(step, 5)

    assert await store.offsets(GROUP) == {(TOPICS.case, 0): 2}
    assert source.committed == [{case_tp: 2}]
    [parked] = kafka.written
    assert (parked.topic, parked.key, parked.value) == (
        f"{TOPICS.case}.dlq.escalation", b"c1", b"\xff garbage",
    )  # fmt: skip
    assert parked.header("traceparent") == b"t"
    assert json.loads(parked.header("casedesk-dlq") or b"{}")["source_offset"] == 1

"""The escalation.decisions.v1 loop: every partition at its stored offset, no consumer group, and
a topic it cannot read costs retries, never the process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.kafka.escalation_decisions import DecisionConsumer
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.deliveries import ConsumedBatch
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_notify.wire.escalation_decisions import EscalationDecisionDecoder
from casedesk_runtime.testing.case_events import CaseStream

TOPIC = events.DECISIONS_TOPIC


@dataclass
class FakeDecisions:
    """What DecisionConsumer needs of an AIOKafkaConsumer without a group."""

    partitions: set[int] | None  # None: the topic is not (yet) visible to notify
    batches: list[Any] = field(default_factory=list)  # each: records, or an exception to raise
    assigned: list[TopicPartition] = field(default_factory=list)
    seeks: dict[int, int | str] = field(default_factory=dict)
    metadata_looks: int = 0

    async def topics(self) -> set[str]:
        self.metadata_looks += 1
        return {TOPIC} if self.partitions else set()

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions if topic == TOPIC else None

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def assign(self, partitions: list[TopicPartition]) -> None:
        self.assigned = list(partitions)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition.partition] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        for partition in partitions:
            self.seeks[partition.partition] = "beginning"

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        await asyncio.sleep(0.005)
        if not self.batches:
            return {}
        batch = self.batches.pop(0)
        if isinstance(batch, Exception):
            raise batch
        return {TopicPartition(TOPIC, batch[0].partition): batch}


def planner_for(store: DeliveryStore) -> BatchPlanner:
    return BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.EMAIL,), store.card, journal=journal,
        decoders={TOPIC: EscalationDecisionDecoder()},
    )  # fmt: skip


def loop_for(store: DeliveryStore, source: FakeDecisions) -> DecisionConsumer:
    async def park(record: Any, error: Exception | str) -> bool:
        raise AssertionError(f"nothing to park here: {error}")

    dispatcher = Dispatcher(
        store, {}, RetryPolicy(1, 0.01, 0.01), dead_letter=park, journal=journal
    )
    handler = BatchHandler(store, planner_for(store), dispatcher, park, lambda: None)
    return DecisionConsumer(source, TOPIC, handler, retry_s=0.01)  # type: ignore[arg-type]


async def run_until(loop: DecisionConsumer, done, timeout_s: float = 5.0) -> None:
    task = asyncio.create_task(loop.run())
    try:
        async with asyncio.timeout(timeout_s):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 1)


async def test_every_partition_resumes_at_its_stored_offset(store: DeliveryStore) -> None:
    store.commit_batch(ConsumedBatch(offsets={(TOPIC, 1): 12, (events.TOPIC, 0): 99}))
    source = FakeDecisions({0, 1, 2})
    await run_until(loop_for(store, source), lambda: len(source.assigned) == 3)
    assert source.seeks == {0: "beginning", 1: 12, 2: "beginning"}


async def test_a_topic_notify_cannot_see_is_retried_until_it_can(store: DeliveryStore) -> None:
    source = FakeDecisions(None)
    loop = loop_for(store, source)
    task = asyncio.create_task(loop.run())
    await asyncio.sleep(0.1)
    assert source.metadata_looks > 1 and not task.done() and source.assigned == []
    source.partitions = {0}  # the ACL was granted
    await asyncio.sleep(0.1)
    loop.stop()
    await asyncio.wait_for(task, 1)
    assert source.assigned == [TopicPartition(TOPIC, 0)]


async def test_refusals_are_committed_with_their_offsets_and_errors_are_waited_out(
    store: DeliveryStore,
) -> None:
    case = CaseStream("case-r", number="2026-0000014")
    store.commit_batch(planner_for(store).plan([events.record(case.created(), 0)]).changes)
    refusal = events.refused_request(case, "the case is CLOSED; a closed case is repeated")
    source = FakeDecisions(
        {0},
        [TopicAuthorizationFailedError(), [events.decision_record(refusal, 5)]],
    )
    await run_until(loop_for(store, source), lambda: store.stored_offsets(TOPIC) == {0: 6})
    [delivery] = [d for d in store.pending() if d.message.template.startswith("escalation")]
    assert "Обращение уже закрыто" in delivery.message.text

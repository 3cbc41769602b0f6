"""Reading the decision journal (escalation.decisions.v1) back in a test."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Collection, Mapping

from aiokafka import AIOKafkaConsumer

from casedesk.escalation.v1 import events_pb2 as escalation_pb2

Decisions = list[escalation_pb2.EscalationDecision]


async def read_decisions(
    kafka: str | Mapping[str, object],
    topic: str,
    case_ids: Collection[str],
    until: Callable[[Decisions], bool],
    timeout_s: float = 60.0,
) -> Decisions:
    """Decisions about `case_ids`, in journal order, once `until(decisions)` holds.

    Records are deduplicated on their event id, as any consumer of the journal does. Raises
    TimeoutError with what was read if the condition does not hold in time.
    """
    # A bootstrap address (PLAINTEXT) or aiokafka's connection arguments (a secured broker).
    connection = {"bootstrap_servers": kafka} if isinstance(kafka, str) else dict(kafka)
    consumer = AIOKafkaConsumer(
        topic,
        **connection,  # type: ignore[arg-type]
        group_id=f"journal-reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: set[str] = set()
    decisions: Decisions = []
    deadline = time.monotonic() + timeout_s
    try:
        while not until(decisions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"journal condition not met; read so far: {decisions}")
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    decision = escalation_pb2.EscalationDecision.FromString(record.value)
                    if decision.meta.case_id in case_ids and decision.meta.event_id not in seen:
                        seen.add(decision.meta.event_id)
                        decisions.append(decision)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return decisions

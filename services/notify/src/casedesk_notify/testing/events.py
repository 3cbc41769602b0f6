"""Case events as notify's consumer reads them: Kafka records around the shared builder's events.

Events themselves come from `casedesk_runtime.testing.case_events.CaseStream`.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk.case.v1 import events_pb2
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.topics import CASE_EVENTS

TOPIC = CASE_EVENTS


def created(case_id: str, number: str) -> events_pb2.CaseEvent:
    """The `Created` that opens case `case_id` (what the relay's tests feed, nothing more)."""
    return CaseStream(case_id, number=number).created()


@dataclass(frozen=True)
class Record:
    """What the consumer reads: the fields of an aiokafka ConsumerRecord that notify uses."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def record(event: events_pb2.CaseEvent, offset: int, partition: int = 0) -> Record:
    return Record(TOPIC, partition, offset, event.meta.case_id.encode(), event.SerializeToString())

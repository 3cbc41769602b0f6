"""The topics a replay reads, and the protobuf payload each one carries.

Names default to the catalogue of DESIGN.md; a prefix lets a replay read a copy of the topics (a
staging mirror, or the uniquely named topics of a benchmark) without changing anything else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from google.protobuf.message import Message

from casedesk.case.v1 import events_pb2 as case_events
from casedesk.escalation.v1 import events_pb2 as escalation_events
from casedesk.notification.v1 import events_pb2 as notification_events
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_vocabulary import topics


class Stream(StrEnum):
    """What a topic is about; the CLI's `--streams` takes these names."""

    CASE = "case"
    SLA = "sla"
    NOTIFICATION = "notification"
    ESCALATION = "escalation"


DEFAULT_TOPIC_NAMES: dict[Stream, str] = {
    Stream.CASE: topics.CASE_EVENTS,
    Stream.SLA: topics.SLA_EVENTS,
    Stream.NOTIFICATION: topics.NOTIFICATION_EVENTS,
    Stream.ESCALATION: topics.ESCALATION_DECISIONS,
}

PAYLOADS: dict[Stream, type[Message]] = {
    Stream.CASE: case_events.CaseEvent,
    Stream.SLA: sla_events.SlaEvent,
    Stream.NOTIFICATION: notification_events.NotificationEvent,
    Stream.ESCALATION: escalation_events.EscalationDecision,
}


@dataclass(frozen=True)
class TopicMap:
    """Which Kafka topic holds each stream: `names` (a private copy named freely, as the
    integration tests name theirs), else `prefix` + the catalogue name."""

    prefix: str = ""
    names: dict[Stream, str] = field(default_factory=dict)

    def topic(self, stream: Stream) -> str:
        return self.names.get(stream) or self.prefix + DEFAULT_TOPIC_NAMES[stream]

    def stream_of(self, topic: str) -> Stream:
        for stream in Stream:
            if self.topic(stream) == topic:
                return stream
        raise KeyError(f"topic {topic!r} is not one of the replayed streams")

    def topics(self, streams: Iterable[Stream]) -> list[str]:
        return [self.topic(stream) for stream in streams]

"""Case events as notify's consumer reads them: Kafka records around the shared builder's events.

Events themselves come from `casedesk_runtime.testing.case_events.CaseStream`; what it does not
build yet (a case's provenance, a closure's reason, a merge) is added here.
"""

from __future__ import annotations

from dataclasses import dataclass

from casedesk.case.v1 import events_pb2
from casedesk.common.v1 import envelope_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk_runtime.events import to_timestamp
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_vocabulary.enums import Channel, ContactChannel, Status
from casedesk_vocabulary.topics import CASE_EVENTS, ESCALATION_DECISIONS

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


# -- what the shared builder does not build (yet): provenance, closures with a reason, merges --


def created_by_email(
    case: CaseStream, message_id: str, address: str, subject: str = "Не приходит SMS-код"
) -> events_pb2.CaseEvent:
    """`Created` of an EMAIL case from the citizen's message `message_id`, without a portal
    account (intake's e-mail ingestion without the gateway's citizen token)."""
    citizen = a_citizen(email=address, account_login="", preferred=ContactChannel.SMS_AND_EMAIL)
    event = case.created(channel=Channel.EMAIL, citizen=citizen, subject=subject)
    event.created.provenance.email.message_id = message_id
    event.created.provenance.email.from_address = address
    return event


def created_by_social(
    case: CaseStream, network: str, reference: str, private: bool, phone: str = ""
) -> events_pb2.CaseEvent:
    """`Created` of a SOCIAL case (a moderation tool's), without a portal account."""
    citizen = a_citizen(phone=phone, email="", account_login="", preferred=ContactChannel.SMS)
    event = case.created(channel=Channel.SOCIAL, citizen=citizen)
    origin = event.created.provenance.social
    origin.network, origin.post_reference, origin.private_message = network, reference, private
    origin.author_handle = "@citizen"
    return event


def closed(case: CaseStream, reason: str) -> events_pb2.CaseEvent:
    """`StatusChanged` to CLOSED with `close_reason` (a `CloseReason` name)."""
    event = case.status_changed(to=Status.CLOSED)
    event.status_changed.close_reason = events_pb2.CloseReason.Value(reason)
    return event


def merged_into(case: CaseStream, target_id: str, target_number: str) -> events_pb2.CaseEvent:
    """`MergedInto`: the duplicate's event, just before its closing `StatusChanged`."""
    payload = events_pb2.MergedInto(
        target_case_id=target_id, target_number=target_number, reason="дубликат"
    )
    return case.event("merged_into", payload)


DECISIONS_TOPIC = ESCALATION_DECISIONS


def refused_request(
    case: CaseStream,
    explanation: str,
    reason: str = "UNSATISFYING_ANSWER",
    accepted: bool = False,
) -> escalation_pb2.EscalationDecision:
    """The escalation service's decision on the citizen's request (worded as its policy words
    it), by default a refusal; the event id derives from the case and the explanation."""
    return escalation_pb2.EscalationDecision(
        meta=envelope_pb2.EventMeta(
            event_id=f"{case.case_id}/decision/{explanation}",
            case_id=case.case_id,
            case_version=case.version,
            event_type="escalation.Decision",
            occurred_at=to_timestamp(case.at),
            correlation_id=case.correlation_id,
        ),
        trigger_event_id=f"{case.case_id}/request",
        reason=events_pb2.EscalationReason.Value(reason),
        accepted=accepted,
        explanation=explanation,
    )


def decision_record(
    decision: escalation_pb2.EscalationDecision, offset: int, partition: int = 0
) -> Record:
    return Record(
        DECISIONS_TOPIC,
        partition,
        offset,
        decision.meta.case_id.encode(),
        decision.SerializeToString(),
    )

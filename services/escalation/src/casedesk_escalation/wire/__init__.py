"""Translation between the protobuf contracts and the escalation domain."""

from casedesk_escalation.domain.observation import Observation
from casedesk_escalation.wire.inbound import (
    UndecodableRecord,
    read_case_event,
    read_record,
    read_sla_event,
)
from casedesk_escalation.wire.outbound import (
    ACTOR,
    ProtobufDecisions,
    decision_id,
    decision_record,
    escalate_command,
)
from casedesk_escalation.wire.topics import CASE_TOPIC, DECISION_TOPIC, SLA_TOPIC, Topics

__all__ = [
    "ACTOR",
    "CASE_TOPIC",
    "DECISION_TOPIC",
    "SLA_TOPIC",
    "Observation",
    "ProtobufDecisions",
    "Topics",
    "UndecodableRecord",
    "decision_id",
    "decision_record",
    "escalate_command",
    "read_case_event",
    "read_record",
    "read_sla_event",
]

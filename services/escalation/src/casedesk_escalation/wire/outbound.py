"""Decisions as the journal record (escalation.decisions.v1) and as the Escalate command.

Identifiers are derived from the trigger, so re-doing work after a crash reproduces the same
idempotency key for the case service and the same event id in the journal.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from casedesk.case.v1 import case_service_pb2, events_pb2
from casedesk.common.v1 import types_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk_escalation.application.ports import EncodedDecision
from casedesk_escalation.domain.decisions import Decision
from casedesk_escalation.domain.triggers import Trigger
from casedesk_runtime.events import new_meta

ACTOR = types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="escalation")
_DECISION_IDS = uuid.UUID("5a3c2f0e-6d1b-4e7a-9c55-0b8e4f1d2a60")


def decision_record(decision: Decision, case_version: int) -> escalation_pb2.EscalationDecision:
    trigger = decision.trigger
    return escalation_pb2.EscalationDecision(
        meta=new_meta(
            case_id=trigger.case_id,
            case_version=case_version,
            event_type="escalation.Decision",
            actor=ACTOR,
            causation_id=trigger.event_id,
            correlation_id=trigger.correlation_id or trigger.event_id,
            event_id=decision_id(trigger),
            occurred_at=datetime.now(UTC),
        ),
        trigger_event_id=trigger.event_id,
        reason=events_pb2.EscalationReason.Value(trigger.reason.value),
        accepted=decision.accepted,
        explanation=decision.explanation,
        from_tier=types_pb2.Tier.Value(decision.from_tier.name),
        to_tier=types_pb2.Tier.Value(decision.to_tier.name) if decision.to_tier else 0,
        policy_version=decision.policy_version,
        rejection_ground=(
            escalation_pb2.RejectionGround.Value(decision.ground.value) if decision.ground else 0
        ),
    )


def escalate_command(decision: Decision) -> case_service_pb2.EscalateRequest:
    trigger = decision.trigger
    if decision.to_tier is None:
        raise ValueError("only a decision with a destination tier becomes a command")
    return case_service_pb2.EscalateRequest(
        context=case_service_pb2.CommandContext(
            idempotency_key=f"escalation:{trigger.case_id}:{trigger.key}",
            actor=ACTOR,
            correlation_id=trigger.correlation_id or trigger.event_id,
            causation_id=trigger.event_id,
        ),
        case_id=trigger.case_id,
        to_tier=types_pb2.Tier.Value(decision.to_tier.name),
        reason=events_pb2.EscalationReason.Value(trigger.reason.value),
        cause_ref=trigger.cause_ref,
        priority=types_pb2.Priority.Value(decision.priority.value) if decision.priority else 0,
        callback_required=decision.callback_required,
    )


def decision_id(trigger: Trigger) -> str:
    return str(uuid.uuid5(_DECISION_IDS, f"{trigger.case_id}/{trigger.event_id}"))


class ProtobufDecisions:
    """The application's DecisionEncoding: journal records and commands as protobuf bytes."""

    def encode(self, decision: Decision, case_version: int) -> EncodedDecision:
        record = decision_record(decision, case_version)
        command = escalate_command(decision) if decision.needs_command else None
        return EncodedDecision(
            decision_id=record.meta.event_id,
            record=record.SerializeToString(),
            command=command.SerializeToString() if command is not None else None,
        )

    def refused(self, record: bytes, refusal: str) -> bytes:
        decision = escalation_pb2.EscalationDecision.FromString(record)
        decision.accepted = False
        decision.explanation = (
            f"accepted by policy ({decision.explanation}), but not carried out: {refusal}"
        )
        return decision.SerializeToString()

"""What asks for an escalation: an SLA breach or a citizen's request, identified by its cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from casedesk_vocabulary.enums import Channel, DeadlineTarget, EscalationReason, Tier

# The reasons a trigger can carry; UNSPECIFIED is only the wire's "not set".
REASONS = tuple(r for r in EscalationReason if r is not EscalationReason.UNSPECIFIED)
BREACH_REASONS = {
    DeadlineTarget.FIRST_RESPONSE: EscalationReason.FIRST_RESPONSE_BREACH,
    DeadlineTarget.RESOLUTION: EscalationReason.RESOLUTION_BREACH,
}
BREACHED_TARGETS = {reason: target for target, reason in BREACH_REASONS.items()}


def is_breach(reason: EscalationReason) -> bool:
    return reason in BREACHED_TARGETS


@dataclass(frozen=True)
class Trigger:
    """Something that asks for an escalation: an SLA breach or a citizen's request.

    `key` identifies the cause for the "one escalation per (case, breach) / (case, request)" rule:
    a breach is identified by its target and due instant (the SLA service may re-emit it under a
    new event id after a crash), a request by its request id. `cause_ref` is what the case service
    records as the cause (the breach event id or the request id).
    """

    event_id: str
    case_id: str
    reason: EscalationReason
    key: str
    cause_ref: str
    occurred_at: datetime
    correlation_id: str = ""
    # Breaches only: the case's tier when the deadline passed, and the case's channel.
    tier_at_breach: Tier | None = None
    channel: Channel | None = None

    @property
    def is_breach(self) -> bool:
        return is_breach(self.reason)

    @classmethod
    def breach(
        cls,
        event_id: str,
        case_id: str,
        target: DeadlineTarget,
        due_at: datetime,
        occurred_at: datetime,
        tier_at_breach: Tier | None,
        channel: Channel | None,
        correlation_id: str = "",
    ) -> Trigger:
        return cls(
            event_id=event_id,
            case_id=case_id,
            reason=BREACH_REASONS[target],
            key=f"breach:{target.value}:{due_at.isoformat()}",
            cause_ref=event_id,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
            tier_at_breach=tier_at_breach,
            channel=channel,
        )

    @classmethod
    def request(
        cls,
        event_id: str,
        case_id: str,
        request_id: str,
        reason: EscalationReason,
        occurred_at: datetime,
        correlation_id: str = "",
    ) -> Trigger:
        return cls(
            event_id=event_id,
            case_id=case_id,
            reason=reason,
            key=f"request:{request_id}",
            cause_ref=request_id,
            occurred_at=occurred_at,
            correlation_id=correlation_id,
        )

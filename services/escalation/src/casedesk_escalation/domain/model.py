"""The escalation vocabulary: tiers, reasons, what triggers an escalation and what was decided.

Pure domain: standard library only. Member names equal the protobuf enum names of
casedesk.common.v1 / casedesk.case.v1, which is how the wire adapter translates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum


class Tier(IntEnum):
    """L1 first line -> L2 senior specialist -> L3 quality-control department."""

    L1 = 1
    L2 = 2
    L3 = 3

    def above(self) -> Tier | None:
        """The next tier up, or None when this is the top of the ladder."""
        return Tier(self + 1) if self < max(Tier) else None


class Status(Enum):
    REGISTERED = "REGISTERED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_FOR_CITIZEN = "WAITING_FOR_CITIZEN"
    ANSWER_READY = "ANSWER_READY"
    CLOSED = "CLOSED"


class Channel(Enum):
    PORTAL_CHAT = "PORTAL_CHAT"
    PERSONAL_ACCOUNT = "PERSONAL_ACCOUNT"
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    SOCIAL = "SOCIAL"
    MFC = "MFC"


class Priority(Enum):
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class Target(Enum):
    """Which SLA deadline of a case."""

    FIRST_RESPONSE = "FIRST_RESPONSE"
    RESOLUTION = "RESOLUTION"


class Reason(Enum):
    NO_ANSWER_IN_TIME = "NO_ANSWER_IN_TIME"
    UNSATISFYING_ANSWER = "UNSATISFYING_ANSWER"
    CRITICAL_ERROR = "CRITICAL_ERROR"
    FIRST_RESPONSE_BREACH = "FIRST_RESPONSE_BREACH"
    RESOLUTION_BREACH = "RESOLUTION_BREACH"

    @property
    def is_breach(self) -> bool:
        return self in (Reason.FIRST_RESPONSE_BREACH, Reason.RESOLUTION_BREACH)

    @staticmethod
    def for_breach(target: Target) -> Reason:
        return {
            Target.FIRST_RESPONSE: Reason.FIRST_RESPONSE_BREACH,
            Target.RESOLUTION: Reason.RESOLUTION_BREACH,
        }[target]


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
    reason: Reason
    key: str
    cause_ref: str
    occurred_at: datetime
    correlation_id: str = ""
    # Breaches only: the case's tier when the deadline passed, and the case's channel.
    tier_at_breach: Tier | None = None
    channel: Channel | None = None

    @classmethod
    def breach(
        cls,
        event_id: str,
        case_id: str,
        target: Target,
        due_at: datetime,
        occurred_at: datetime,
        tier_at_breach: Tier | None,
        channel: Channel | None,
        correlation_id: str = "",
    ) -> Trigger:
        return cls(
            event_id=event_id,
            case_id=case_id,
            reason=Reason.for_breach(target),
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
        reason: Reason,
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


@dataclass(frozen=True)
class Decision:
    """The policy's answer to one trigger, accepted or rejected, always with the reason why."""

    trigger: Trigger
    accepted: bool
    explanation: str
    policy_version: str
    from_tier: Tier
    # The tier the trigger asked for; None when no tier could be derived (e.g. already at the top).
    to_tier: Tier | None = None
    priority: Priority | None = None
    callback_required: bool = False
    # The case service already recorded this escalation (found in case.events.v1): no new command.
    already_applied: bool = False

    @property
    def needs_command(self) -> bool:
        return self.accepted and not self.already_applied

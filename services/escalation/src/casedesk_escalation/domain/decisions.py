"""The policy's answer to one trigger."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from casedesk_escalation.domain.triggers import Trigger
from casedesk_vocabulary.enums import Priority, Tier


class RejectionGround(Enum):
    """Which rule of the policy turned a trigger down: journaled beside the explanation's words,
    so a reader (notify, telling the citizen why) needs no parsing of them."""

    ALREADY_DECIDED = "ALREADY_DECIDED"
    CASE_CLOSED = "CASE_CLOSED"
    NO_RULE = "NO_RULE"
    NOT_OVERDUE = "NOT_OVERDUE"
    WRONG_STATUS = "WRONG_STATUS"
    HIGHEST_TIER = "HIGHEST_TIER"
    ALREADY_THERE = "ALREADY_THERE"
    RECENTLY_ESCALATED = "RECENTLY_ESCALATED"


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
    # Set on every rejection: the rule that objected.
    ground: RejectionGround | None = None

    @property
    def needs_command(self) -> bool:
        return self.accepted and not self.already_applied

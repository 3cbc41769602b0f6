"""The policy's answer to one trigger."""

from __future__ import annotations

from dataclasses import dataclass

from casedesk_escalation.domain.triggers import Trigger
from casedesk_vocabulary.enums import Priority, Tier


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

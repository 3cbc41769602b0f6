"""What the escalation service knows about one case, folded from both event streams.

Case events (case.events.v1) tell the status, the tier and the escalations the case service
recorded; SLA events (sla.events.v1) tell the channel and which deadlines were breached. The two
topics are not ordered against each other, so every fact is applied idempotently and
monotonically: tiers only go up, a breach once seen stays seen, versions only advance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from casedesk_escalation.domain.decisions import Decision
from casedesk_escalation.domain.triggers import BREACHED_TARGETS, Trigger
from casedesk_vocabulary.enums import Channel, DeadlineTarget, EscalationReason, Status, Tier


@dataclass(frozen=True)
class CaseOpened:
    channel: Channel | None
    tier: Tier
    version: int


@dataclass(frozen=True)
class StatusChanged:
    status: Status
    version: int


@dataclass(frozen=True)
class CaseEscalated:
    from_tier: Tier
    to_tier: Tier
    reason: EscalationReason | None
    cause_ref: str
    occurred_at: datetime
    version: int


@dataclass(frozen=True)
class CaseTouched:
    """Any other case event: only its version matters here."""

    version: int


@dataclass(frozen=True)
class DeadlineBreached:
    target: DeadlineTarget
    channel: Channel | None


@dataclass(frozen=True)
class ClockObserved:
    """Any other SLA event: it carries the case's channel."""

    channel: Channel | None


Fact = CaseOpened | StatusChanged | CaseEscalated | CaseTouched | DeadlineBreached | ClockObserved


@dataclass
class CaseState:
    case_id: str
    version: int = 0
    channel: Channel | None = None
    status: Status | None = None
    tier: Tier = Tier.L1
    breached: set[DeadlineTarget] = field(default_factory=set)
    last_escalated_at: datetime | None = None
    # Trigger key -> id of the event decided for it (accepted or rejected): one decision per
    # breach / request.
    decided: dict[str, str] = field(default_factory=dict)
    # Escalations by cause reference (breach event id or request id): (from tier, to tier).
    # Those decided here are entered when decided; others when the case stream shows them.
    escalations: dict[str, tuple[Tier, Tier]] = field(default_factory=dict)

    def apply(self, fact: Fact) -> None:
        match fact:
            case CaseOpened(channel=channel, tier=tier, version=version):
                self.channel = channel or self.channel
                self.tier = max(self.tier, tier)
                # A status change consumed earlier (impossible within one topic, but cheap to
                # guard) is never overwritten by the creation.
                self.status = self.status or Status.REGISTERED
                self._seen(version)
            case StatusChanged(status=status, version=version):
                if version >= self.version:
                    self.status = status
                self._seen(version)
            case CaseEscalated() as escalated:
                self._escalated(escalated)
            case CaseTouched(version=version):
                self._seen(version)
            case DeadlineBreached(target=target, channel=channel):
                self.breached.add(target)
                self.channel = self.channel or channel
            case ClockObserved(channel=channel):
                self.channel = self.channel or channel

    def is_redelivery(self, trigger: Trigger) -> bool:
        """The very event already decided, delivered again (a producer retry or a re-published
        outbox entry): it gets no second decision, not even a rejection."""
        return self.decided.get(trigger.key) == trigger.event_id

    def record(self, decision: Decision) -> None:
        """Remember a decision; an accepted one moves the tier at once, so that the next trigger
        is judged against the tier the case is being moved to, not the one it is leaving."""
        trigger = decision.trigger
        self.decided.setdefault(trigger.key, trigger.event_id)
        if decision.accepted and decision.to_tier is not None:
            self.tier = max(self.tier, decision.to_tier)
            self.escalations.setdefault(trigger.cause_ref, (decision.from_tier, decision.to_tier))
            self._escalated_at(trigger.occurred_at)

    def _escalated(self, escalated: CaseEscalated) -> None:
        self.tier = max(self.tier, escalated.to_tier)
        cause = escalated.cause_ref
        if not cause or cause not in self.escalations:
            # Not one of ours (a specialist's, or decided before this store existed): it starts
            # the cooldown at the time it happened. Ours started it at their trigger's time, and
            # how long the case service took to apply them must not move that.
            self._escalated_at(escalated.occurred_at)
            if cause:
                self.escalations[cause] = (escalated.from_tier, escalated.to_tier)
        if escalated.reason in BREACHED_TARGETS:
            self.breached.add(BREACHED_TARGETS[escalated.reason])
        self._seen(escalated.version)

    def _escalated_at(self, moment: datetime) -> None:
        if self.last_escalated_at is None or moment > self.last_escalated_at:
            self.last_escalated_at = moment

    def _seen(self, version: int) -> None:
        self.version = max(self.version, version)

"""The escalation policy: which trigger moves a case to which tier, and the guards around it.

`EscalationPolicy.decide` is a pure function of the case state and the trigger. The guards run in
a fixed order and the first one that objects names the reason, so every rejection in the journal
says exactly which rule stopped it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from casedesk_escalation.domain.case_state import CaseState
from casedesk_escalation.domain.decisions import Decision, RejectionGround
from casedesk_escalation.domain.triggers import Trigger
from casedesk_vocabulary.enums import Channel, EscalationReason, Priority, Status, Tier

# A guard looks at the case, the trigger and the tier it asks for; it returns an objection or None.
Guard = Callable[[CaseState, Trigger, Tier | None], str | None]


@dataclass(frozen=True)
class EscalationRule:
    reason: EscalationReason
    # Fixed destination, or None for "one tier above" the tier the trigger refers to.
    to_tier: Tier | None = None
    # Priority to set on the case; None keeps the case's own priority.
    priority: Priority | None = None
    # Accepted only if a deadline of the case was actually breached.
    requires_breach: bool = False
    # Accepted only in these statuses; empty: any status but CLOSED.
    requires_status: frozenset[Status] = frozenset()


@dataclass(frozen=True)
class EscalationPolicy:
    version: str
    rules: Mapping[EscalationReason, EscalationRule]
    # Minimum time between two escalations of the same case, measured on event time.
    cooldown: timedelta = timedelta(0)
    # Channels where the senior specialist calls the citizen back after an escalation.
    callback_channels: frozenset[Channel] = frozenset({Channel.PHONE})
    highest_tier: Tier = Tier.L3

    def decide(self, case: CaseState, trigger: Trigger) -> Decision:
        if trigger.key in case.decided:
            why = (
                f"duplicate: {_cause(trigger)} was already decided; a case is escalated at most "
                "once per breach and per request"
            )
            return self._reject(case, trigger, None, why, RejectionGround.ALREADY_DECIDED)
        if trigger.cause_ref in case.escalations:
            return self._already_applied(case, trigger)
        target = self._target(case, trigger)
        guards: tuple[tuple[Guard, RejectionGround], ...] = (
            (self._closed, RejectionGround.CASE_CLOSED),
            (self._rule_missing, RejectionGround.NO_RULE),
            (self._breach_missing, RejectionGround.NOT_OVERDUE),
            (self._status_not_allowed, RejectionGround.WRONG_STATUS),
            (self._top_reached, RejectionGround.HIGHEST_TIER),
            (self._already_there, RejectionGround.ALREADY_THERE),
            (self._cooling_down, RejectionGround.RECENTLY_ESCALATED),
        )
        for guard, ground in guards:
            objection = guard(case, trigger, target)
            if objection:
                return self._reject(case, trigger, target, objection, ground)
        assert target is not None  # _top_reached objects otherwise
        rule = self.rules[trigger.reason]
        return Decision(
            trigger=trigger,
            accepted=True,
            explanation=f"{_cause(trigger)}: escalate {case.tier.name} -> {target.name} "
            f"({self._rule_text(rule)})",
            policy_version=self.version,
            from_tier=case.tier,
            to_tier=target,
            priority=rule.priority,
            callback_required=(trigger.channel or case.channel) in self.callback_channels,
        )

    def _already_applied(self, case: CaseState, trigger: Trigger) -> Decision:
        # Seen in case.events.v1 before this trigger (a store restored from a backup, a stream
        # replayed): the escalation exists, so it is recorded rather than commanded again.
        from_tier, to_tier = case.escalations[trigger.cause_ref]
        why = (
            f"the case service already escalated {from_tier.name} -> {to_tier.name} for "
            f"{_cause(trigger)}"
        )
        return Decision(trigger, True, why, self.version, from_tier, to_tier, already_applied=True)

    def _target(self, case: CaseState, trigger: Trigger) -> Tier | None:
        rule = self.rules.get(trigger.reason)
        if rule is None:
            return None
        if rule.to_tier is not None:
            return rule.to_tier
        # One tier above the tier the case is at or being moved to by earlier decisions, which
        # follow the breaches' own order. The SLA service's view of the tier lags behind by however
        # long the case service took to apply an escalation (longer still if this service was
        # down), so it counts only when it knows a higher tier than we do (an escalation not
        # consumed here yet).
        base = max(case.tier, trigger.tier_at_breach or Tier.L1)
        return base.above()

    # -- guards: each returns why the trigger is rejected, or None -----------------------------

    def _closed(self, case: CaseState, trigger: Trigger, target: Tier | None) -> str | None:
        if case.status is not Status.CLOSED:
            return None
        return "the case is CLOSED; a closed case is repeated, not escalated"

    def _rule_missing(self, case: CaseState, trigger: Trigger, target: Tier | None) -> str | None:
        if trigger.reason in self.rules:
            return None
        return f"policy {self.version} has no rule for {trigger.reason.value}"

    def _breach_missing(self, case: CaseState, trigger: Trigger, target: Tier | None) -> str | None:
        if not self.rules[trigger.reason].requires_breach or case.breached:
            return None
        return (
            f"{trigger.reason.value} is accepted only after a deadline was breached, and no "
            "deadline of this case has been breached"
        )

    def _status_not_allowed(
        self, case: CaseState, trigger: Trigger, target: Tier | None
    ) -> str | None:
        allowed = self.rules[trigger.reason].requires_status
        if not allowed or case.status in allowed:
            return None
        names = ", ".join(sorted(s.value for s in allowed))
        current = case.status.value if case.status else "unknown"
        return f"{trigger.reason.value} is accepted only in status {names}; the case is {current}"

    def _top_reached(self, case: CaseState, trigger: Trigger, target: Tier | None) -> str | None:
        if target is not None and target <= self.highest_tier:
            return None
        return (
            f"the case is at {case.tier.name}; escalation never goes above {self.highest_tier.name}"
        )

    def _already_there(self, case: CaseState, trigger: Trigger, target: Tier | None) -> str | None:
        if target is None or target > case.tier:
            return None
        return f"the case is already at {case.tier.name}; {_cause(trigger)} asks for {target.name}"

    def _cooling_down(self, case: CaseState, trigger: Trigger, target: Tier | None) -> str | None:
        last = case.last_escalated_at
        if last is None or not self.cooldown or trigger.occurred_at >= last + self.cooldown:
            return None
        return (
            f"cooldown: the case was escalated at {last.isoformat()}; policy {self.version} "
            f"allows the next escalation from {(last + self.cooldown).isoformat()}"
        )

    def _reject(
        self,
        case: CaseState,
        trigger: Trigger,
        target: Tier | None,
        why: str,
        ground: RejectionGround,
    ) -> Decision:
        return Decision(trigger, False, why, self.version, case.tier, target, ground=ground)

    @staticmethod
    def _rule_text(rule: EscalationRule) -> str:
        where = rule.to_tier.name if rule.to_tier else "the next tier"
        priority = f", priority {rule.priority.value}" if rule.priority else ""
        return f"rule {rule.reason.value}: to {where}{priority}"


def _cause(trigger: Trigger) -> str:
    if trigger.is_breach:
        return f"{trigger.reason.value} {trigger.cause_ref}"
    return f"citizen request {trigger.cause_ref} ({trigger.reason.value})"

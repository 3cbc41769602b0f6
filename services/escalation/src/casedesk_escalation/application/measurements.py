"""The escalation service's series on the runtime's metrics endpoint.

- `casedesk_escalation_escalations_total{from_tier, to_tier, reason}`: escalations decided
  (accepted decisions), by the tier the case was at, the tier it goes to and why;
- `casedesk_escalation_decisions_total{reason, accepted}`: every decision, accepted or not.

Counted once the batch that holds them is committed: a batch discarded after a rebalance and
decided again is counted once. (Whether the case service then applied the Escalate command shows
in the runtime's `casedesk_grpc_client_handled_total{grpc_method="Escalate"}`.)
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import metrics

from casedesk_escalation.domain.decisions import Decision

_meter = metrics.get_meter("casedesk_escalation")
_decisions = _meter.create_counter(
    "casedesk.escalation.decisions",
    unit="{decision}",
    description="Escalation decisions by reason and outcome",
)
_escalations = _meter.create_counter(
    "casedesk.escalation.escalations",
    unit="{escalation}",
    description="Escalations decided, by the tier the case leaves and the tier it goes to",
)


def committed(decisions: Iterable[Decision]) -> None:
    for decision in decisions:
        reason = decision.trigger.reason.value
        _decisions.add(1, {"reason": reason, "accepted": str(decision.accepted).lower()})
        if decision.accepted:
            to_tier = decision.to_tier.value if decision.to_tier is not None else ""
            labels = {"from_tier": decision.from_tier.value, "to_tier": to_tier, "reason": reason}
            _escalations.add(1, labels)

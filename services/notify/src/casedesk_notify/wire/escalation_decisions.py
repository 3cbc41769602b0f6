"""escalation.decisions.v1 records -> notify's facts: a citizen's escalation request refused.

The escalation service journals every decision, accepted or not, for breaches and requests
alike. Notify explains only the refusals of a citizen's own request; an accepted one is told by
the case's `Escalated`, a breach the citizen never asked about. A refusal that merely repeats an
earlier decision (the same request decided twice after a restart) was explained the first time.

The decision names the rule that refused it (`rejection_ground`), worded for the citizen by
notify's templates. Its `explanation` is the policy's words for the journal and the desk (English,
naming rules and event ids), never the citizen's to read; decisions journaled before grounds
existed are recognised by the policy's guard phrases in it (services/escalation,
domain/policy.py), and a phrase this release does not know reads as a general refusal.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from casedesk.case.v1 import events_pb2 as case_events_pb2
from casedesk.escalation.v1 import events_pb2
from casedesk_notify.application.ports import DecodedEvent, PoisonRecord
from casedesk_notify.domain import EscalationRejected, RejectionGround
from casedesk_runtime.events import from_timestamp, unreadable_as
from casedesk_vocabulary.enums import EscalationReason

# The reasons a citizen gives when he asks (the others are SLA breaches).
CITIZEN_REQUESTS = frozenset(
    {
        EscalationReason.NO_ANSWER_IN_TIME,
        EscalationReason.UNSATISFYING_ANSWER,
        EscalationReason.CRITICAL_ERROR,
    }
)
_REPEATED_DECISION = "duplicate:"
# The escalation policy's guards, by the phrase each one's objection contains, in its order.
_GROUNDS = (
    ("the case is CLOSED", RejectionGround.CASE_CLOSED),
    ("is accepted only after a deadline was breached", RejectionGround.NOT_OVERDUE),
    ("is accepted only in status", RejectionGround.WRONG_STATUS),
    ("escalation never goes above", RejectionGround.HIGHEST_TIER),
    ("the case is already at", RejectionGround.ALREADY_THERE),
    ("cooldown:", RejectionGround.RECENTLY_ESCALATED),
)


# The rule the escalation service names; the ones a citizen's request cannot meet, or that this
# release does not word, read as a general refusal.
_GROUNDS_BY_RULE = {
    events_pb2.CASE_CLOSED: RejectionGround.CASE_CLOSED,
    events_pb2.NOT_OVERDUE: RejectionGround.NOT_OVERDUE,
    events_pb2.WRONG_STATUS: RejectionGround.WRONG_STATUS,
    events_pb2.HIGHEST_TIER: RejectionGround.HIGHEST_TIER,
    events_pb2.ALREADY_THERE: RejectionGround.ALREADY_THERE,
    events_pb2.RECENTLY_ESCALATED: RejectionGround.RECENTLY_ESCALATED,
    events_pb2.NO_RULE: RejectionGround.OTHER,
}


def rejection_ground(explanation: str) -> RejectionGround:
    """The ground of a decision journaled without one, from the policy's words."""
    for phrase, ground in _GROUNDS:
        if phrase in explanation:
            return ground
    return RejectionGround.OTHER


class EscalationDecisionDecoder:
    @unreadable_as(PoisonRecord)
    def decode(self, value: bytes) -> DecodedEvent:
        decision = events_pb2.EscalationDecision()
        try:
            decision.ParseFromString(value)
        except DecodeError as error:
            raise PoisonRecord(f"not an EscalationDecision: {error}") from None
        meta = decision.meta
        if not meta.event_id or not meta.case_id:
            raise PoisonRecord("EscalationDecision without event_id or case_id")
        return DecodedEvent(
            event_id=meta.event_id,
            case_id=meta.case_id,
            case_version=meta.case_version,
            correlation_id=meta.correlation_id,
            fact=_refusal(decision),
            occurred_at=from_timestamp(meta.occurred_at),
        )


def _refusal(decision: events_pb2.EscalationDecision) -> EscalationRejected | None:
    reason = _reason(decision.reason)
    if decision.accepted or reason not in CITIZEN_REQUESTS:
        return None
    if decision.rejection_ground == events_pb2.ALREADY_DECIDED:
        return None
    if decision.explanation.startswith(_REPEATED_DECISION):  # journaled before grounds existed
        return None
    ground = _GROUNDS_BY_RULE.get(decision.rejection_ground)
    return EscalationRejected(reason, ground or rejection_ground(decision.explanation))


def _reason(value: int) -> EscalationReason:
    values = case_events_pb2.EscalationReason.values()
    name = case_events_pb2.EscalationReason.Name(value) if value in values else ""
    return EscalationReason.__members__.get(name, EscalationReason.UNSPECIFIED)

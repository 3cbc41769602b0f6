"""Decoding what the way back needs: the provenance of `Created`, closures with a reason, merges,
and the escalation service's decisions (escalation.decisions.v1)."""

from __future__ import annotations

import pytest

from casedesk.case.v1 import events_pb2
from casedesk.escalation.v1 import events_pb2 as escalation_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.application.ports import PoisonRecord
from casedesk_notify.domain import (
    EmailThread,
    EscalationRejected,
    MergedInto,
    Registered,
    RejectionGround,
    SocialThread,
    StatusChanged,
)
from casedesk_notify.testing import events
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_notify.wire.escalation_decisions import EscalationDecisionDecoder
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import ActorKind, Channel, CloseReason, EscalationReason, Status

DECODER = CaseEventDecoder(NoDeadlines())


def registered(event) -> Registered:
    fact = DECODER.decode(event.SerializeToString()).fact
    assert isinstance(fact, Registered)
    return fact


def test_an_email_case_remembers_the_citizens_thread() -> None:
    case = CaseStream("case-e", number="2026-0000011")
    event = events.created_by_email(case, "<m-1@mail.example.org>", "ivan@example.org", "Вход")
    card = registered(event).card
    assert card.email_thread == EmailThread("m-1@mail.example.org", "ivan@example.org", "Вход")
    assert card.social_thread is None and not card.portal_account


def test_an_email_case_with_an_unusable_message_id_is_answered_unthreaded() -> None:
    case = CaseStream("case-e", number="2026-0000011")
    event = events.created_by_email(case, "gateway-key-17", "ivan@example.org")
    assert registered(event).card.email_thread is None


def test_a_provenance_of_another_channel_is_no_way_back() -> None:
    case = CaseStream("case-c", number="2026-0000012", channel=Channel.PORTAL_CHAT)
    event = case.created()
    event.created.provenance.email.message_id = "m-2@mail.example.org"  # a confused frontend
    assert registered(event).card.email_thread is None


def test_a_social_case_remembers_its_post() -> None:
    case = CaseStream("case-s", number="2026-0000013")
    event = events.created_by_social(case, " Telegram ", "123456789:42", private=True)
    card = registered(event).card
    assert card.social_thread == SocialThread("telegram", "123456789:42", True)
    assert card.social_thread.recipient == "telegram:123456789:42"


@pytest.mark.parametrize("reason", list(CloseReason))
def test_a_closure_carries_its_reason(reason: CloseReason) -> None:
    case = CaseStream("case-1")
    case.created()
    fact = DECODER.decode(events.closed(case, reason.value).SerializeToString()).fact
    assert isinstance(fact, StatusChanged) and fact.close_reason is reason


def test_a_closure_without_a_reason_has_none() -> None:
    case = CaseStream("case-1")
    case.created()
    event = case.status_changed(to=Status.CLOSED)
    fact = DECODER.decode(event.SerializeToString()).fact
    assert isinstance(fact, StatusChanged) and fact.close_reason is None


def test_a_merge_names_the_case_to_follow_and_the_rest_is_silent() -> None:
    case = CaseStream("case-1")
    case.created()
    merged = events.merged_into(case, "case-2", "2026-0000042")
    assert DECODER.decode(merged.SerializeToString()).fact == MergedInto("2026-0000042")
    for field, payload in [
        ("answer_rated", events_pb2.AnswerRated(score=5, comment="Спасибо")),
        ("duplicate_merged", events_pb2.DuplicateMerged(duplicate_case_id="case-0")),
        ("callback_recorded", events_pb2.CallbackRecorded(reached=True)),
    ]:
        event = case.event(field, payload, by=ActorKind.CITIZEN)
        assert DECODER.decode(event.SerializeToString()).fact is None


# -- escalation.decisions.v1 ---------------------------------------------------------------------

# The escalation policy's objections, as its guards word them (services/escalation).
EXPLANATIONS = {
    RejectionGround.CASE_CLOSED: "the case is CLOSED; a closed case is repeated, not escalated",
    RejectionGround.NOT_OVERDUE: (
        "NO_ANSWER_IN_TIME is accepted only after a deadline was breached, and no deadline of "
        "this case has been breached"
    ),
    RejectionGround.WRONG_STATUS: (
        "UNSATISFYING_ANSWER is accepted only in status ANSWER_READY; the case is IN_PROGRESS"
    ),
    RejectionGround.HIGHEST_TIER: "the case is at L3; escalation never goes above L3",
    RejectionGround.ALREADY_THERE: (
        "the case is already at L2; citizen request r-1 (CRITICAL_ERROR) asks for L2"
    ),
    RejectionGround.RECENTLY_ESCALATED: (
        "cooldown: the case was escalated at 2026-03-02T10:00:00+00:00; policy escalation-"
        "policy-v1 allows the next escalation from 2026-03-02T10:30:00+00:00"
    ),
    RejectionGround.OTHER: "policy escalation-policy-v9 has no rule for CRITICAL_ERROR",
}


@pytest.mark.parametrize("ground", list(RejectionGround))
def test_a_refused_request_decodes_to_its_ground(ground: RejectionGround) -> None:
    case = CaseStream("case-r")
    decision = events.refused_request(case, EXPLANATIONS[ground], reason="CRITICAL_ERROR")
    decoded = EscalationDecisionDecoder().decode(decision.SerializeToString())
    assert decoded.fact == EscalationRejected(EscalationReason.CRITICAL_ERROR, ground)
    assert (decoded.event_id, decoded.case_id) == (decision.meta.event_id, "case-r")


@pytest.mark.parametrize(
    ("reason", "accepted", "explanation"),
    [
        ("UNSATISFYING_ANSWER", True, "citizen request r-1 (UNSATISFYING_ANSWER): escalate"),
        ("RESOLUTION_BREACH", False, "the case is at L3; escalation never goes above L3"),
        ("UNSATISFYING_ANSWER", False, "duplicate: citizen request r-1 was already decided"),
    ],
    ids=["accepted", "a breach", "decided before"],
)
def test_only_a_new_refusal_of_a_citizens_request_is_told(
    reason: str, accepted: bool, explanation: str
) -> None:
    decision = events.refused_request(CaseStream(), explanation, reason, accepted)
    assert EscalationDecisionDecoder().decode(decision.SerializeToString()).fact is None


@pytest.mark.parametrize(
    ("named", "ground"),
    [
        ("NOT_OVERDUE", RejectionGround.NOT_OVERDUE),
        ("RECENTLY_ESCALATED", RejectionGround.RECENTLY_ESCALATED),
        ("NO_RULE", RejectionGround.OTHER),
    ],
)
def test_the_rule_the_decision_names_decides_not_its_words(
    named: str, ground: RejectionGround
) -> None:
    # The words say one thing (a later release may reword them); the named rule wins.
    decision = events.refused_request(CaseStream(), EXPLANATIONS[RejectionGround.CASE_CLOSED])
    decision.rejection_ground = escalation_pb2.RejectionGround.Value(named)  # type: ignore[assignment]
    decoded = EscalationDecisionDecoder().decode(decision.SerializeToString())
    assert decoded.fact == EscalationRejected(EscalationReason.UNSATISFYING_ANSWER, ground)


def test_a_request_decided_before_is_not_explained_again() -> None:
    decision = events.refused_request(CaseStream(), "decided before, in any words")
    decision.rejection_ground = escalation_pb2.ALREADY_DECIDED
    assert EscalationDecisionDecoder().decode(decision.SerializeToString()).fact is None


def test_an_unreadable_decision_is_poison() -> None:
    with pytest.raises(PoisonRecord):
        EscalationDecisionDecoder().decode(b"\x08\x96")
    decision = events.refused_request(CaseStream(), "x")
    decision.meta.case_id = ""
    with pytest.raises(PoisonRecord, match="without event_id or case_id"):
        EscalationDecisionDecoder().decode(decision.SerializeToString())

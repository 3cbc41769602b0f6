"""The escalation policy table (packaged policy v1), its loop guards and the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casedesk_escalation.adapters.policy_file import load_policy
from casedesk_escalation.domain.case_state import (
    CaseEscalated,
    CaseOpened,
    CaseState,
    DeadlineBreached,
    StatusChanged,
)
from casedesk_escalation.domain.decisions import RejectionGround
from casedesk_escalation.domain.policy import EscalationPolicy
from casedesk_escalation.domain.triggers import Trigger
from casedesk_vocabulary.enums import (
    Channel,
    DeadlineTarget,
    EscalationReason,
    Priority,
    Status,
    Tier,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = load_policy()
REQUESTS = (
    EscalationReason.NO_ANSWER_IN_TIME,
    EscalationReason.UNSATISFYING_ANSWER,
    EscalationReason.CRITICAL_ERROR,
)


def case(
    tier: Tier = Tier.L1,
    status: Status = Status.IN_PROGRESS,
    channel: Channel = Channel.PORTAL_CHAT,
    breached: tuple[DeadlineTarget, ...] = (),
) -> CaseState:
    state = CaseState("case-1")
    state.apply(CaseOpened(channel, tier, 1))
    state.apply(StatusChanged(status, 2))
    for target in breached:
        state.apply(DeadlineBreached(target, channel))
    return state


def breach(
    target: DeadlineTarget,
    tier: Tier | None = Tier.L1,
    at: datetime = T0,
    event_id: str = "breach-1",
    due: datetime = T0,
    channel: Channel = Channel.PORTAL_CHAT,
) -> Trigger:
    return Trigger.breach(event_id, "case-1", target, due, at, tier, channel)


def request(reason: EscalationReason, request_id: str = "req-1", at: datetime = T0) -> Trigger:
    return Trigger.request(f"event-{request_id}", "case-1", request_id, reason, at)


def decide(state: CaseState, trigger: Trigger, policy: EscalationPolicy = POLICY):
    """Decide as the service does: the breach is a fact before it is a trigger."""
    if trigger.is_breach:
        target = (
            DeadlineTarget.FIRST_RESPONSE
            if trigger.reason is EscalationReason.FIRST_RESPONSE_BREACH
            else (DeadlineTarget.RESOLUTION)
        )
        state.apply(DeadlineBreached(target, trigger.channel))
    decision = policy.decide(state, trigger)
    state.record(decision)
    return decision


# -- breaches --------------------------------------------------------------------------------


def test_first_response_breach_escalates_l1_to_senior_specialist() -> None:
    decision = decide(case(), breach(DeadlineTarget.FIRST_RESPONSE))
    assert decision.accepted
    assert (decision.from_tier, decision.to_tier) == (Tier.L1, Tier.L2)
    assert decision.priority is None  # the case keeps its priority
    assert not decision.callback_required
    assert decision.policy_version == "escalation-policy-v1"


def test_an_accepted_decision_has_no_ground_and_a_decided_trigger_is_already_decided() -> None:
    state = case()
    trigger = breach(DeadlineTarget.FIRST_RESPONSE)
    accepted = decide(state, trigger)
    assert accepted.accepted and accepted.ground is None
    state.record(accepted)
    again = decide(state, trigger)
    assert not again.accepted and again.ground is RejectionGround.ALREADY_DECIDED


def test_first_response_breach_of_a_case_already_at_l2_is_rejected() -> None:
    decision = decide(case(tier=Tier.L2), breach(DeadlineTarget.FIRST_RESPONSE, tier=Tier.L2))
    assert not decision.accepted
    assert "already at L2" in decision.explanation
    assert decision.ground is RejectionGround.ALREADY_THERE


@pytest.mark.parametrize(("at_breach", "expected"), [(Tier.L1, Tier.L2), (Tier.L2, Tier.L3)])
def test_resolution_breach_escalates_one_tier_up(at_breach: Tier, expected: Tier) -> None:
    decision = decide(case(tier=at_breach), breach(DeadlineTarget.RESOLUTION, tier=at_breach))
    assert decision.accepted
    assert (decision.from_tier, decision.to_tier) == (at_breach, expected)


def test_resolution_breach_at_l3_never_goes_above_l3() -> None:
    decision = decide(case(tier=Tier.L3), breach(DeadlineTarget.RESOLUTION, tier=Tier.L3))
    assert not decision.accepted
    assert decision.to_tier is None
    assert "never goes above L3" in decision.explanation
    assert decision.ground is RejectionGround.HIGHEST_TIER


def test_resolution_breach_counts_from_the_tier_earlier_decisions_moved_the_case_to() -> None:
    # The first-response escalation was decided, but had not reached the case service (or the
    # SLA service) when the resolution deadline passed: the breach still says L1. However late
    # the first escalation was applied, the ladder is the same.
    state = case(tier=Tier.L1)
    assert decide(state, breach(DeadlineTarget.FIRST_RESPONSE, Tier.L1, T0, "b1")).accepted
    late = decide(state, breach(DeadlineTarget.RESOLUTION, Tier.L1, T0 + timedelta(hours=2), "b2"))
    assert late.accepted and (late.from_tier, late.to_tier) == (Tier.L2, Tier.L3)


def test_breach_tier_counts_when_it_knows_of_a_higher_tier_than_this_service() -> None:
    # A specialist escalated to L2; the SLA service saw it, this service not yet.
    decision = decide(case(tier=Tier.L1), breach(DeadlineTarget.RESOLUTION, tier=Tier.L2))
    assert decision.accepted and decision.to_tier is Tier.L3


def test_breach_without_tier_is_judged_on_the_known_tier() -> None:
    decision = decide(case(tier=Tier.L2), breach(DeadlineTarget.RESOLUTION, tier=None))
    assert decision.accepted and decision.to_tier is Tier.L3


def test_phone_case_escalation_records_a_callback() -> None:
    state = case(channel=Channel.PHONE)
    decision = decide(state, breach(DeadlineTarget.FIRST_RESPONSE, channel=Channel.PHONE))
    assert decision.accepted and decision.callback_required


@pytest.mark.parametrize(
    "reason", [EscalationReason.CRITICAL_ERROR, EscalationReason.NO_ANSWER_IN_TIME]
)
def test_phone_case_citizen_request_records_a_callback(reason: EscalationReason) -> None:
    state = case(channel=Channel.PHONE, breached=(DeadlineTarget.FIRST_RESPONSE,))
    decision = decide(state, request(reason))
    assert decision.accepted and decision.callback_required


def test_breach_of_a_closed_case_is_rejected() -> None:
    decision = decide(case(status=Status.CLOSED), breach(DeadlineTarget.RESOLUTION))
    assert not decision.accepted
    assert "CLOSED" in decision.explanation


# -- citizen requests ------------------------------------------------------------------------


def test_no_answer_in_time_without_any_breach_is_rejected() -> None:
    decision = decide(case(), request(EscalationReason.NO_ANSWER_IN_TIME))
    assert not decision.accepted
    assert "no deadline of this case has been breached" in decision.explanation
    assert decision.to_tier is Tier.L2  # what it asked for, journaled with the rejection


@pytest.mark.parametrize("target", list(DeadlineTarget))
def test_no_answer_in_time_after_a_breach_goes_one_tier_up(target: DeadlineTarget) -> None:
    decision = decide(case(breached=(target,)), request(EscalationReason.NO_ANSWER_IN_TIME))
    assert decision.accepted
    assert (decision.from_tier, decision.to_tier) == (Tier.L1, Tier.L2)


def test_a_breach_known_only_from_an_escalation_counts_as_breached() -> None:
    state = case()
    state.apply(
        CaseEscalated(
            Tier.L1, Tier.L2, EscalationReason.FIRST_RESPONSE_BREACH, "b-0", T0, version=3
        )
    )
    decision = decide(
        state, request(EscalationReason.NO_ANSWER_IN_TIME, at=T0 + timedelta(hours=1))
    )
    assert decision.accepted and decision.to_tier is Tier.L3


@pytest.mark.parametrize(
    "status", [Status.REGISTERED, Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN]
)
def test_unsatisfying_answer_before_answer_ready_is_rejected(status: Status) -> None:
    decision = decide(case(status=status), request(EscalationReason.UNSATISFYING_ANSWER))
    assert not decision.accepted
    assert f"only in status ANSWER_READY; the case is {status.value}" in decision.explanation


@pytest.mark.parametrize(("tier", "expected"), [(Tier.L1, Tier.L2), (Tier.L2, Tier.L3)])
def test_unsatisfying_answer_after_answer_ready_goes_one_tier_up(
    tier: Tier, expected: Tier
) -> None:
    state = case(tier=tier, status=Status.ANSWER_READY)
    decision = decide(state, request(EscalationReason.UNSATISFYING_ANSWER))
    assert decision.accepted and decision.to_tier is expected


def test_unsatisfying_answer_on_a_closed_case_is_rejected() -> None:
    decision = decide(case(status=Status.CLOSED), request(EscalationReason.UNSATISFYING_ANSWER))
    assert not decision.accepted and "CLOSED" in decision.explanation


def test_critical_error_goes_straight_to_l2_with_critical_priority() -> None:
    decision = decide(case(status=Status.REGISTERED), request(EscalationReason.CRITICAL_ERROR))
    assert decision.accepted
    assert decision.to_tier is Tier.L2
    assert decision.priority is Priority.CRITICAL


@pytest.mark.parametrize("tier", [Tier.L2, Tier.L3])
def test_critical_error_on_a_case_at_l2_or_above_is_rejected(tier: Tier) -> None:
    decision = decide(case(tier=tier), request(EscalationReason.CRITICAL_ERROR))
    assert not decision.accepted
    assert f"already at {tier.name}" in decision.explanation


@pytest.mark.parametrize(
    "reason", [EscalationReason.NO_ANSWER_IN_TIME, EscalationReason.UNSATISFYING_ANSWER]
)
def test_citizen_request_at_l3_never_goes_above_l3(reason: EscalationReason) -> None:
    state = case(tier=Tier.L3, status=Status.ANSWER_READY, breached=(DeadlineTarget.RESOLUTION,))
    decision = decide(state, request(reason))
    assert not decision.accepted and "never goes above L3" in decision.explanation


# -- loop guards -----------------------------------------------------------------------------


def test_one_escalation_per_breach_even_if_the_breach_is_re_emitted() -> None:
    state = case()
    first = decide(state, breach(DeadlineTarget.FIRST_RESPONSE, event_id="breach-1"))
    again = decide(state, breach(DeadlineTarget.FIRST_RESPONSE, event_id="breach-1-re-emitted"))
    assert first.accepted
    assert not again.accepted and again.explanation.startswith("duplicate")


def test_one_escalation_per_request() -> None:
    state = case(breached=(DeadlineTarget.FIRST_RESPONSE,))
    policy = EscalationPolicy(POLICY.version, POLICY.rules)  # no cooldown: isolate the guard
    next_day = T0 + timedelta(days=1)
    first = decide(state, request(EscalationReason.NO_ANSWER_IN_TIME, "req-7"), policy)
    again = decide(state, request(EscalationReason.NO_ANSWER_IN_TIME, "req-7", next_day), policy)
    other = decide(state, request(EscalationReason.NO_ANSWER_IN_TIME, "req-8", next_day), policy)
    assert first.accepted and not again.accepted and other.accepted
    assert (other.from_tier, other.to_tier) == (Tier.L2, Tier.L3)


def test_escalation_the_case_service_already_recorded_is_accepted_without_a_new_command() -> None:
    state = case()
    state.apply(
        CaseEscalated(Tier.L1, Tier.L2, EscalationReason.FIRST_RESPONSE_BREACH, "breach-1", T0, 3)
    )
    decision = decide(state, breach(DeadlineTarget.FIRST_RESPONSE, event_id="breach-1"))
    assert decision.accepted and decision.already_applied and not decision.needs_command
    assert (decision.from_tier, decision.to_tier) == (Tier.L1, Tier.L2)


def test_cooldown_rejects_a_second_escalation_too_soon_and_allows_it_after() -> None:
    state = case(breached=(DeadlineTarget.FIRST_RESPONSE,))
    assert decide(state, breach(DeadlineTarget.FIRST_RESPONSE, at=T0)).accepted
    soon = decide(
        state, request(EscalationReason.NO_ANSWER_IN_TIME, "r1", T0 + timedelta(minutes=29))
    )
    later = decide(
        state, request(EscalationReason.NO_ANSWER_IN_TIME, "r2", T0 + timedelta(minutes=30))
    )
    assert not soon.accepted and soon.explanation.startswith("cooldown")
    assert "allows the next escalation from 2026-03-02T09:30:00+00:00" in soon.explanation
    assert later.accepted and later.to_tier is Tier.L3


def test_cooldown_counts_from_an_escalation_seen_in_the_case_stream() -> None:
    state = case(breached=(DeadlineTarget.FIRST_RESPONSE,))
    state.apply(CaseEscalated(Tier.L1, Tier.L2, EscalationReason.CRITICAL_ERROR, "req-0", T0, 3))
    decision = decide(
        state, request(EscalationReason.NO_ANSWER_IN_TIME, at=T0 + timedelta(minutes=5))
    )
    assert not decision.accepted and decision.explanation.startswith("cooldown")


def test_cooldown_is_configurable_and_zero_disables_it() -> None:
    state = case(breached=(DeadlineTarget.FIRST_RESPONSE,))
    policy = EscalationPolicy("test", POLICY.rules, cooldown=timedelta(0))
    assert decide(state, breach(DeadlineTarget.FIRST_RESPONSE), policy).accepted
    assert decide(state, request(EscalationReason.NO_ANSWER_IN_TIME), policy).accepted


def test_unsatisfied_chat_case_climbs_l1_l2_l3_and_stops_there() -> None:
    state = case(channel=Channel.PORTAL_CHAT)
    first = decide(
        state, breach(DeadlineTarget.FIRST_RESPONSE, Tier.L1, T0 + timedelta(minutes=5), "b1")
    )
    second = decide(
        state, breach(DeadlineTarget.RESOLUTION, Tier.L2, T0 + timedelta(hours=2), "b2")
    )
    third = decide(state, request(EscalationReason.NO_ANSWER_IN_TIME, "r", T0 + timedelta(hours=5)))
    assert [(d.accepted, d.to_tier) for d in (first, second)] == [(True, Tier.L2), (True, Tier.L3)]
    assert not third.accepted and "never goes above L3" in third.explanation
    assert state.tier is Tier.L3


@st.composite
def breaches(draw: st.DrawFn) -> Trigger:
    target = draw(st.sampled_from(list(DeadlineTarget)))
    due = draw(st.sampled_from([T0, T0 + timedelta(hours=2)]))
    # The same breach may come again under another event id (an SLA re-emission); one event id
    # never names two breaches.
    emission = draw(st.sampled_from(["first", "re-emitted"]))
    return breach(
        target,
        tier=draw(st.sampled_from([None, *Tier])),
        at=draw(st.integers(0, 500).map(lambda m: T0 + timedelta(minutes=m))),
        event_id=f"{target.value}/{due.isoformat()}/{emission}",
        due=due,
    )


triggers = st.one_of(
    breaches(),
    st.builds(
        request,
        reason=st.sampled_from(REQUESTS),
        request_id=st.sampled_from(["r1", "r2", "r3", "r4"]),
        at=st.integers(0, 500).map(lambda m: T0 + timedelta(minutes=m)),
    ),
)


@given(
    st.lists(triggers, max_size=30),
    st.sampled_from(list(Status)),
    st.sampled_from([0, 30]),
)
def test_no_trigger_sequence_escalates_above_l3_twice_per_cause_or_backwards(
    sequence: list[Trigger], status: Status, cooldown_min: int
) -> None:
    policy = EscalationPolicy("prop", POLICY.rules, cooldown=timedelta(minutes=cooldown_min))
    state = case(status=status)
    accepted_keys: list[str] = []
    for trigger in sorted(sequence, key=lambda t: t.occurred_at):
        before = state.tier
        decision = decide(state, trigger, policy)
        assert state.tier <= Tier.L3
        if decision.accepted:
            assert decision.to_tier is not None and before < decision.to_tier == state.tier
            accepted_keys.append(trigger.key)
        else:
            assert state.tier == before and decision.explanation
    assert len(accepted_keys) == len(set(accepted_keys))
    assert len(accepted_keys) <= 2  # L1 -> L2 -> L3 at most

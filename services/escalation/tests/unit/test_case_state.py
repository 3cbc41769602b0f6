"""Per-case state folded from two unordered streams, and its stored JSON form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from casedesk_escalation.adapters.persistence.state_json import dump_state, load_state
from casedesk_escalation.domain.case_state import (
    CaseEscalated,
    CaseOpened,
    CaseState,
    CaseTouched,
    ClockObserved,
    DeadlineBreached,
    StatusChanged,
)
from casedesk_escalation.domain.decisions import Decision
from casedesk_escalation.domain.triggers import Trigger
from casedesk_vocabulary.enums import Channel, DeadlineTarget, EscalationReason, Status, Tier

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_late_escalated_event_never_lowers_the_tier() -> None:
    state = CaseState("c")
    state.apply(CaseEscalated(Tier.L2, Tier.L3, EscalationReason.RESOLUTION_BREACH, "b2", T0, 5))
    state.apply(
        CaseEscalated(Tier.L1, Tier.L2, EscalationReason.FIRST_RESPONSE_BREACH, "b1", T0, 4)
    )
    assert state.tier is Tier.L3
    assert state.escalations == {"b2": (Tier.L2, Tier.L3), "b1": (Tier.L1, Tier.L2)}
    assert state.breached == {DeadlineTarget.FIRST_RESPONSE, DeadlineTarget.RESOLUTION}
    assert state.version == 5


def test_breach_consumed_before_the_creation_keeps_its_channel_and_the_status_follows() -> None:
    state = CaseState("c")
    state.apply(DeadlineBreached(DeadlineTarget.FIRST_RESPONSE, Channel.PHONE))
    state.apply(CaseOpened(None, Tier.L1, 1))
    assert state.channel is Channel.PHONE
    assert state.status is Status.REGISTERED
    assert state.breached == {DeadlineTarget.FIRST_RESPONSE}


def test_status_follows_the_case_stream_and_other_events_only_advance_the_version() -> None:
    state = CaseState("c")
    state.apply(CaseOpened(Channel.EMAIL, Tier.L1, 1))
    state.apply(StatusChanged(Status.IN_PROGRESS, 2))
    state.apply(CaseTouched(3))
    state.apply(ClockObserved(Channel.PORTAL_CHAT))  # the first channel learnt stays
    assert (state.status, state.version, state.channel) == (Status.IN_PROGRESS, 3, Channel.EMAIL)


def test_an_accepted_decision_moves_the_tier_and_starts_the_cooldown_a_rejected_does_not() -> None:
    state = CaseState("c")
    trigger = Trigger.request("e1", "c", "r1", EscalationReason.CRITICAL_ERROR, T0)
    state.record(Decision(trigger, False, "no", "v", Tier.L1, Tier.L2))
    assert (state.tier, state.last_escalated_at) == (Tier.L1, None)
    later = Trigger.request(
        "e2", "c", "r2", EscalationReason.CRITICAL_ERROR, T0 + timedelta(hours=1)
    )
    state.record(Decision(later, True, "yes", "v", Tier.L1, Tier.L2))
    assert (state.tier, state.last_escalated_at) == (Tier.L2, later.occurred_at)
    assert state.decided == {"request:r1": "e1", "request:r2": "e2"}
    assert state.is_redelivery(trigger) and not state.is_redelivery(
        Trigger.request("e3", "c", "r1", EscalationReason.CRITICAL_ERROR, T0)
    )


def test_our_own_escalation_coming_back_late_does_not_move_the_cooldown() -> None:
    state = CaseState("c")
    trigger = Trigger.request("e1", "c", "r1", EscalationReason.CRITICAL_ERROR, T0)
    state.record(Decision(trigger, True, "yes", "v", Tier.L1, Tier.L2))
    # The case service applied it ten minutes later (this service was down meanwhile).
    late = T0 + timedelta(minutes=10)
    state.apply(CaseEscalated(Tier.L1, Tier.L2, EscalationReason.CRITICAL_ERROR, "r1", late, 4))
    assert state.last_escalated_at == T0
    # Someone else's escalation does start the cooldown when it happened.
    state.apply(CaseEscalated(Tier.L2, Tier.L3, None, "manual-7", late, 5))
    assert state.last_escalated_at == late
    assert state.escalations == {"r1": (Tier.L1, Tier.L2), "manual-7": (Tier.L2, Tier.L3)}


def test_state_survives_its_stored_form() -> None:
    state = CaseState(
        "c",
        version=7,
        channel=Channel.SOCIAL,
        status=Status.ANSWER_READY,
        tier=Tier.L2,
        breached={DeadlineTarget.RESOLUTION},
        last_escalated_at=T0,
        decided={"breach:RESOLUTION:x": "e1", "request:r": "e2"},
        escalations={"b": (Tier.L1, Tier.L2)},
    )
    assert load_state("c", dump_state(state)) == state
    assert load_state("fresh", dump_state(CaseState("fresh"))) == CaseState("fresh")

"""A case's current SLA clock, folded from its SLA facts whatever order they arrived in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from casedesk_case.adapters.timeline.clocks import current_clock
from casedesk_case.application.timeline import ClockState, SlaClock, SlaFact

CASE = "0b7f7a57-0000-4000-8000-0000000000c1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FIRST, RESOLUTION = "FIRST_RESPONSE", "RESOLUTION"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def sla(
    kind: str,
    minute: float,
    due_minute: float | None,
    target: str = FIRST,
    case_id: str = CASE,
    late: bool = False,
) -> SlaFact:
    """An SLA fact with an id derived like the SLA service's: (case, target, kind, due, time)."""
    due = at(due_minute) if due_minute is not None else None
    return SlaFact(
        event_id=f"{case_id}/{target}/{kind}/{due_minute}/{minute}",
        case_id=case_id, at=at(minute), target=target, kind=kind, due_at=due, late=late,
    )  # fmt: skip


def opened(case_id: str = CASE) -> list[SlaFact]:
    """Both clocks start when a case is opened: first response in 4 h, resolution in 5 days."""
    return [sla("started", 0, 240, FIRST, case_id), sla("started", 0, 7200, RESOLUTION, case_id)]


def clock_of(facts: list[SlaFact]) -> SlaClock:
    computed = current_clock(facts)
    assert computed is not None
    return computed.clock


def test_no_facts_no_clock() -> None:
    assert current_clock([]) is None


def test_an_opened_case_runs_its_first_response_clock() -> None:
    assert clock_of(opened()) == SlaClock(CASE, FIRST, ClockState.RUNNING, at(240), at(0))


def test_warning_then_breach_mark_the_running_clock() -> None:
    warned = [*opened(), sla("warning", 192, 240)]
    assert clock_of(warned) == SlaClock(CASE, FIRST, ClockState.WARNING, at(240), at(0))
    breached = [*warned, sla("breached", 240, 240)]
    assert clock_of(breached) == SlaClock(CASE, FIRST, ClockState.BREACHED, at(240), at(0))


def test_a_pause_keeps_the_deadline_and_a_resume_moves_start_and_deadline_together() -> None:
    paused = [
        *opened(),
        sla("paused", 60, 240),
        sla("paused", 60, 7200, RESOLUTION),
    ]
    assert clock_of(paused) == SlaClock(CASE, FIRST, ClockState.PAUSED, at(240), at(0))
    # Resumed 10 hours later: the deadline moves by the pause, and so does the start, so that
    # due - start is still the 4-hour allowance (an hour of it used).
    resumed = [*paused, sla("resumed", 660, 840), sla("resumed", 660, 7800, RESOLUTION)]
    assert clock_of(resumed) == SlaClock(CASE, FIRST, ClockState.RUNNING, at(840), at(600))


def test_meeting_the_first_response_leaves_the_resolution_clock() -> None:
    answered = [*opened(), sla("met", 30, 240)]
    assert clock_of(answered) == SlaClock(CASE, RESOLUTION, ClockState.RUNNING, at(7200), at(0))


def test_the_nearest_open_deadline_is_the_case_clock_even_when_breached() -> None:
    facts = [*opened(), sla("warning", 192, 240), sla("breached", 240, 240)]
    facts.append(sla("warning", 5760, 7200, RESOLUTION))
    assert clock_of(facts).target == FIRST
    assert clock_of(facts).state is ClockState.BREACHED


def test_every_target_met_stops_the_clock_naming_the_last_one() -> None:
    closed = [*opened(), sla("met", 30, 240), sla("met", 900, 7200, RESOLUTION)]
    computed = current_clock(closed)
    assert computed is not None
    assert computed.clock == SlaClock(CASE, RESOLUTION, ClockState.NONE, None, None)
    assert computed.updated_at == at(900)


def test_a_later_start_of_a_met_target_runs_it_again() -> None:
    facts = [*opened(), sla("met", 30, 240), sla("met", 60, 7200, RESOLUTION)]
    facts.append(sla("started", 120, 2000, RESOLUTION))
    assert clock_of(facts) == SlaClock(CASE, RESOLUTION, ClockState.RUNNING, at(2000), at(120))


def test_the_order_of_arrival_does_not_matter() -> None:
    story = [
        *opened(),
        sla("warning", 192, 240),
        sla("paused", 200, 240),
        sla("paused", 200, 7200, RESOLUTION),
        sla("resumed", 300, 340),
        sla("resumed", 300, 7300, RESOLUTION),
        sla("met", 310, 340),
    ]
    expected = current_clock(story)
    assert expected is not None
    assert expected.clock == SlaClock(CASE, RESOLUTION, ClockState.RUNNING, at(7300), at(100))
    for shuffled in itertools.islice(itertools.permutations(story), 0, None, 97):
        assert current_clock(list(shuffled)) == expected


def test_a_clock_warned_before_a_pause_is_still_warned_after_it() -> None:
    facts = [*opened(), sla("warning", 192, 240), sla("paused", 200, 240)]
    assert clock_of(facts).state is ClockState.PAUSED
    facts.append(sla("resumed", 300, 340))
    assert clock_of(facts) == SlaClock(CASE, FIRST, ClockState.WARNING, at(340), at(100))

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from google.protobuf.duration_pb2 import Duration

from casedesk.common.v1 import types_pb2
from casedesk.sla.v1 import events_pb2 as se
from casedesk_replay.projections import ReplayState
from casedesk_replay.projections.sla import outcome
from casedesk_replay.topics import Stream
from casedesk_replay.wire import to_micros
from casedesk_replay_testing.synthetic import Scenario
from casedesk_replay_testing.synthetic.builders import MINUTE, T0, sla_event
from casedesk_runtime.events import to_timestamp

CASE = "case-1"
DUE = T0 + 30 * MINUTE


def started(target: str = "FIRST_RESPONSE") -> se.SlaEvent:
    return sla_event(CASE, target, T0, DUE, started=se.ClockStarted(started_at=to_timestamp(T0)))


def met(at: datetime, late: bool = False, target: str = "FIRST_RESPONSE") -> se.SlaEvent:
    return sla_event(CASE, target, at, DUE, met=se.Met(met_at=to_timestamp(at), late=late))


def breached(target: str = "FIRST_RESPONSE") -> se.SlaEvent:
    payload = se.Breached(fired_at=to_timestamp(DUE), tier=types_pb2.L1)
    return sla_event(CASE, target, DUE, DUE, breached=payload)


def fold(*events: se.SlaEvent) -> ReplayState:
    state = ReplayState()
    state.apply(Stream.SLA, list(events))
    return state


def clock(state: ReplayState, target: str = "FIRST_RESPONSE") -> dict[str, Any]:
    return state.sla.clocks[(CASE, target)]


def test_a_clock_met_before_its_due_instant_is_met() -> None:
    state = fold(started(), met(T0 + 10 * MINUTE))
    row = clock(state)
    assert outcome(row) == "MET"
    assert (row["started_at"], row["due_at"]) == (to_micros(T0), to_micros(DUE))
    assert (row["channel"], row["policy_version"]) == ("EMAIL", "2023.1")


def test_a_breached_clock_met_later_is_met_late_and_counts_one_breach() -> None:
    state = fold(started(), breached(), met(DUE + MINUTE, late=True))
    assert outcome(clock(state)) == "MET_LATE"
    assert clock(state)["breach_tier"] == "L1"
    assert state.sla.breaches == 1


def test_a_breached_clock_not_yet_met_is_breached_and_a_running_one_open() -> None:
    state = fold(started("FIRST_RESPONSE"), breached("FIRST_RESPONSE"), started("RESOLUTION"))
    assert outcome(clock(state, "FIRST_RESPONSE")) == "BREACHED"
    assert outcome(clock(state, "RESOLUTION")) == "OPEN"


def test_pauses_are_counted_and_a_resume_moves_the_due_instant() -> None:
    later_due = DUE + timedelta(hours=2)
    paused = se.ClockPaused(paused_at=to_timestamp(T0 + MINUTE), remaining=Duration(seconds=1740))
    resumed = se.ClockResumed(resumed_at=to_timestamp(T0 + 2 * timedelta(hours=1)))
    pause_event = sla_event(CASE, "FIRST_RESPONSE", T0 + MINUTE, DUE, paused=paused)
    resume_event = sla_event(CASE, "FIRST_RESPONSE", T0 + 2 * MINUTE, later_due, resumed=resumed)
    state = fold(started(), pause_event, resume_event)
    assert clock(state)["pauses"] == 1
    assert clock(state)["due_at"] == to_micros(later_due)


def test_duplicated_sla_events_change_nothing() -> None:
    events = [started(), breached(), met(DUE + MINUTE, late=True)]
    once, twice = fold(*events), fold(*events, *events)
    assert twice.sla.clocks == once.sla.clocks
    assert twice.sla.breaches == 1


def test_synthetic_stream_breaches_match_what_was_produced(scenario: Scenario) -> None:
    state = fold(*scenario.sla_events)
    assert state.sla.breaches == scenario.expected.breaches
    assert scenario.expected.breaches > 0

"""What-if SLA outcomes: hand-computed cases, equality with what the SLA service decides, and a
whole synthetic stream against its recorded sla.events.v1."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from casedesk.case.v1.events_pb2 import CaseEvent
from casedesk_replay.projections import ReplayState, SlaOutcomes, WhatIfClocks
from casedesk_replay.projections.sla import outcome
from casedesk_replay.projections.whatif import WHATIF_COLUMNS
from casedesk_replay.topics import Stream
from casedesk_replay.whatif_report import compare
from casedesk_replay.wire import to_micros
from casedesk_replay_testing.synthetic import Scenario
from casedesk_replay_testing.synthetic.builders import CaseEvents, msk
from casedesk_sla.replaying import PolicyRegistry, merge_partitions, sla_event
from casedesk_sla.replaying import replay as sla_service_replay

POLICIES = PolicyRegistry("2023.1")
H = timedelta(hours=1)
M = timedelta(minutes=1)


def whatif(*events: CaseEvent, as_of: datetime | None = None) -> dict[str, dict[str, Any]]:
    state = ReplayState(WhatIfClocks(POLICIES))
    state.apply(Stream.CASE, list(events))
    assert state.whatif is not None
    moment = as_of or msk(2030, 1, 1)
    return {row["target"]: row for row in state.whatif.rows(to_micros(moment))}


def test_an_email_on_friday_afternoon_is_due_on_monday_and_wednesday_midnight(
    case: CaseEvents,
) -> None:
    friday = msk(2025, 10, 24, 15, 0)
    rows = whatif(case.created(friday, "EMAIL"), case.move(msk(2025, 10, 27, 14, 0), "IN_PROGRESS"))
    assert rows["FIRST_RESPONSE"]["due_at"] == to_micros(msk(2025, 10, 27, 15, 0))
    assert rows["FIRST_RESPONSE"]["outcome"] == "MET"
    assert rows["RESOLUTION"]["due_at"] == to_micros(msk(2025, 10, 30, 0, 0))
    assert rows["RESOLUTION"]["outcome"] == "BREACHED"  # never answered, judged in 2030


def test_a_reply_an_hour_after_the_due_instant_is_late(case: CaseEvents) -> None:
    rows = whatif(
        case.created(msk(2025, 10, 24, 15, 0), "EMAIL"), case.comment(msk(2025, 10, 27, 16, 0))
    )
    assert rows["FIRST_RESPONSE"]["outcome"] == "MET_LATE"
    assert rows["FIRST_RESPONSE"]["breached_at"] == to_micros(msk(2025, 10, 27, 15, 0))


def test_waiting_for_the_citizen_keeps_the_unspent_working_time(case: CaseEvents) -> None:
    # Budget: Friday 15:00-24:00 (9 h) + 3 working days (72 h); 21 h spent at Monday 12:00.
    events = [
        case.created(msk(2025, 10, 24, 15, 0), "EMAIL"),
        case.move(msk(2025, 10, 27, 10, 0), "IN_PROGRESS"),
        case.move(msk(2025, 10, 27, 12, 0), "WAITING_FOR_CITIZEN"),
        case.move(msk(2025, 10, 29, 12, 0), "IN_PROGRESS", actor="citizen"),
    ]
    rows = whatif(*events)
    # 60 h left from Wednesday 12:00: Wednesday 12 h, Thursday 24 h, Friday 24 h.
    assert rows["RESOLUTION"]["due_at"] == to_micros(msk(2025, 11, 1, 0, 0))
    assert rows["RESOLUTION"]["pauses"] == 1
    assert rows["FIRST_RESPONSE"]["pauses"] == 0  # met at 10:00, before the pause


def test_a_pause_saves_a_chat_that_would_have_been_late(case: CaseEvents) -> None:
    start = msk(2025, 10, 20, 10, 0)
    events = [
        case.created(start, "PORTAL_CHAT"),
        case.move(start + 10 * M, "IN_PROGRESS"),  # first response after its 5 min: late
        case.move(start + 11 * M, "WAITING_FOR_CITIZEN"),
        case.move(start + 71 * M, "IN_PROGRESS", actor="citizen"),
        case.move(start + 150 * M, "ANSWER_READY"),
    ]
    rows = whatif(*events)
    assert rows["FIRST_RESPONSE"]["outcome"] == "MET_LATE"
    assert rows["RESOLUTION"]["due_at"] == to_micros(start + 3 * H)
    assert rows["RESOLUTION"]["outcome"] == "MET"


def test_a_breached_clock_does_not_pause(case: CaseEvents) -> None:
    start = msk(2025, 10, 20, 10, 0)
    events = [
        case.created(start, "PORTAL_CHAT"),
        case.move(start + M, "IN_PROGRESS"),
        case.move(start + 150 * M, "WAITING_FOR_CITIZEN"),  # resolution was due at +120 min
        case.move(start + 5 * H, "IN_PROGRESS", actor="citizen"),
        case.move(start + 6 * H, "ANSWER_READY"),
    ]
    rows = whatif(*events)
    assert rows["RESOLUTION"]["outcome"] == "MET_LATE"
    assert rows["RESOLUTION"]["pauses"] == 0
    assert rows["RESOLUTION"]["breached_at"] == to_micros(start + 2 * H)


def test_mfc_cases_have_only_a_resolution_clock(case: CaseEvents) -> None:
    start = msk(2025, 10, 20, 10, 0)
    rows = whatif(case.created(start, "MFC"), case.move(start + M, "IN_PROGRESS"))
    assert set(rows) == {"RESOLUTION"}
    # One working day, counted from the next day: due at the end of Tuesday.
    assert rows["RESOLUTION"]["due_at"] == to_micros(msk(2025, 10, 22, 0, 0))


def test_running_clocks_are_judged_at_the_as_of_instant(case: CaseEvents) -> None:
    start = msk(2025, 10, 20, 10, 0)
    created = case.created(start, "PORTAL_CHAT")
    assert whatif(created, as_of=start + 4 * M)["FIRST_RESPONSE"]["outcome"] == "OPEN"
    assert whatif(created, as_of=start + 6 * M)["FIRST_RESPONSE"]["outcome"] == "BREACHED"


def test_channels_unknown_to_the_policy_are_counted_not_guessed(case: CaseEvents) -> None:
    state = ReplayState(WhatIfClocks(POLICIES))
    state.apply(Stream.CASE, [case.created(msk(2025, 10, 20, 10, 0), "CHANNEL_UNSPECIFIED")])
    assert state.whatif is not None
    assert state.whatif.rows(0) == []
    assert state.whatif.unknown_channels == {"CHANNEL_UNSPECIFIED": 1}


def test_a_checkpoint_of_an_earlier_release_is_refused() -> None:
    with pytest.raises(ValueError, match="earlier release"):
        WhatIfClocks(POLICIES).restore({"policy": "2023.1", "cases": {}, "unknown": {}})


def test_a_checkpoint_with_clock_rows_of_an_earlier_release_is_refused(
    scenario: Scenario,
) -> None:
    clocks = ReplayState(WhatIfClocks(POLICIES))
    clocks.apply(Stream.CASE, scenario.case_events[:50])
    assert clocks.whatif is not None
    state = clocks.whatif.snapshot()
    assert state["open"], "the scenario's first events leave clocks open"
    # The rows before 2026.1: no category after the channel.
    state["open"] = {case_id: row[:2] + row[3:] for case_id, row in state["open"].items()}

    with pytest.raises(ValueError, match=r"earlier release .*written by another release"):
        WhatIfClocks(POLICIES).restore(state)


def decided_by_the_sla_service(scenario: Scenario, version: str) -> SlaOutcomes:
    """The SLA events the SLA service's own replay decides under `version`, folded as this tool
    folds sla.events.v1."""
    by_case: dict[str, list[CaseEvent]] = defaultdict(list)
    for event in scenario.case_events:
        by_case[event.meta.case_id].append(event)
    # Each case's events in order, all in event time: the order the service consumes them in.
    events = merge_partitions(by_case.values())
    decided = sla_service_replay(events, PolicyRegistry(version), to_micros(scenario.as_of))
    outcomes = SlaOutcomes()
    for fact in decided.facts:
        outcomes.apply(sla_event(fact))
    return outcomes


@pytest.mark.parametrize("version", ["2023.1", "test-seconds"])
def test_what_if_equals_what_the_sla_service_decides(scenario: Scenario, version: str) -> None:
    state = ReplayState(WhatIfClocks(PolicyRegistry(version)))
    state.apply(Stream.CASE, scenario.case_events)
    assert state.whatif is not None
    rows = state.whatif.rows(to_micros(scenario.as_of))
    service = decided_by_the_sla_service(scenario, version).clocks
    expected = [
        {**{column: clock[column] for column in WHATIF_COLUMNS[:-1]}, "outcome": outcome(clock)}
        for clock in service.values()
    ]
    assert len(rows) == len(expected) > 0
    assert sorted(rows, key=_clock_key) == sorted(expected, key=_clock_key)
    assert len({row["outcome"] for row in rows}) > 1  # clocks of several fates were compared


def _clock_key(row: dict[str, Any]) -> tuple[str, str]:
    return row["case_id"], row["target"]


def replayed(scenario: Scenario, version: str) -> ReplayState:
    state = ReplayState(WhatIfClocks(PolicyRegistry(version)))
    for stream, events in scenario.streams().items():
        state.apply(stream, events)
    return state


def test_the_policy_in_force_reproduces_the_sla_topic(scenario: Scenario) -> None:
    state = replayed(scenario, scenario.policy.version)
    rows = compare(state, to_micros(scenario.as_of))
    assert sum(row.clocks for row in rows) == len(state.sla.clocks)
    assert all(row.changed == 0 for row in rows)
    assert all(row.actual == pytest.approx(row.whatif) for row in rows)


def test_a_stricter_policy_breaches_clocks_that_were_met(scenario: Scenario) -> None:
    rows = compare(replayed(scenario, "test-seconds"), to_micros(scenario.as_of))
    assert sum(row.newly_breached for row in rows) > 0
    assert sum(row.no_longer_breached for row in rows) == 0
    for row in rows:
        assert row.whatif is not None and row.actual is not None
        assert row.whatif <= row.actual

from __future__ import annotations

from datetime import timedelta

import pytest

from casedesk.sla.v1 import events_pb2 as se
from casedesk_replay import reports
from casedesk_replay.projections import ReplayState
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import Scenario
from casedesk_replay_testing.synthetic.builders import CaseEvents, msk, sla_event
from casedesk_runtime.events import to_timestamp

H = timedelta(hours=1)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert reports.percentiles(values) == {50: 50.0, 90: 90.0, 95: 95.0, 99: 99.0}
    assert reports.percentiles([7.0]) == {50: 7.0, 90: 7.0, 95: 7.0, 99: 7.0}


def two_cases() -> ReplayState:
    """A chat answered in 3 min and resolved in 1 h; an e-mail answered late, still open."""
    chat, mail = CaseEvents(case_id="chat"), CaseEvents(case_id="mail")
    start = msk(2025, 10, 20, 10, 0)  # Monday of ISO week 43
    case_events = [
        chat.created(start, "PORTAL_CHAT", category=1),
        chat.move(start + 3 * timedelta(minutes=1), "IN_PROGRESS"),
        chat.move(start + H, "ANSWER_READY"),
        mail.created(start, "EMAIL", repeat_of="chat"),
        mail.comment(start + 30 * H),
    ]
    due = start + 24 * H
    sla_events = [
        sla_event(
            "chat",
            "FIRST_RESPONSE",
            start,
            start,
            started=se.ClockStarted(started_at=to_timestamp(start)),
        ),
        sla_event("chat", "FIRST_RESPONSE", start, start, met=se.Met(met_at=to_timestamp(start))),
        sla_event(
            "mail",
            "FIRST_RESPONSE",
            start,
            due,
            started=se.ClockStarted(started_at=to_timestamp(start)),
        ),
        sla_event(
            "mail", "FIRST_RESPONSE", due, due, breached=se.Breached(fired_at=to_timestamp(due))
        ),
        sla_event(
            "mail",
            "RESOLUTION",
            start,
            due,
            started=se.ClockStarted(started_at=to_timestamp(start)),
        ),
    ]
    state = ReplayState()
    state.apply(Stream.CASE, case_events)
    state.apply(Stream.SLA, sla_events)
    return state


def test_compliance_per_category_counts_met_breached_and_open() -> None:
    rows = reports.sla_compliance(two_cases(), "category")
    by_key = {(r.group, r.target): r for r in rows}
    signin = by_key[("REGISTRATION_SIGN_IN", "FIRST_RESPONSE")]
    fault = by_key[("TECHNICAL_FAULT", "FIRST_RESPONSE")]
    assert (signin.met, signin.rate) == (1, 1.0)
    assert (fault.breached, fault.rate) == (1, 0.0)
    assert by_key[("TECHNICAL_FAULT", "RESOLUTION")].open == 1
    assert by_key[("TECHNICAL_FAULT", "RESOLUTION")].rate is None


def test_compliance_per_week_uses_the_moscow_iso_week_of_the_clock_start() -> None:
    rows = reports.sla_compliance(two_cases(), "week")
    assert {r.group for r in rows} == {"2025-W43"}
    assert sum(r.met + r.breached + r.open for r in rows) == 3


def test_compliance_of_clocks_whose_case_was_not_replayed_is_unknown_tier() -> None:
    state = two_cases()
    state.cases.rows.clear()
    assert {r.group for r in reports.sla_compliance(state, "tier")} == {"UNKNOWN"}


def test_response_times_per_channel_and_overall() -> None:
    times = {(d.channel, d.measure): d for d in reports.response_times(two_cases())}
    assert times[("PORTAL_CHAT", "first_response")].percentiles[50] == 180.0
    assert times[("PORTAL_CHAT", "resolution")].percentiles[99] == 3600.0
    assert times[("EMAIL", "first_response")].percentiles[50] == 30 * 3600.0
    assert ("EMAIL", "resolution") not in times
    assert times[("ALL", "first_response")].count == 2


def test_repeat_rate_per_channel() -> None:
    rates = {r.channel: r for r in reports.repeats(two_cases())}
    assert (rates["EMAIL"].repeats, rates["EMAIL"].rate) == (1, 1.0)
    assert rates["PORTAL_CHAT"].rate == 0.0
    assert rates["ALL"].rate == pytest.approx(0.5)


def test_summary_of_a_synthetic_stream(scenario: Scenario) -> None:
    state = ReplayState()
    for stream, events in scenario.streams().items():
        state.apply(stream, events)
    summary = reports.summarize(state)
    assert set(summary.compliance) == set(reports.DIMENSIONS)
    channel_rows = summary.compliance["channel"]
    assert sum(r.breached + r.met_late for r in channel_rows) == scenario.expected.breaches
    e = summary.escalations
    assert (e.escalations, e.requests) == (
        scenario.expected.escalated,
        scenario.expected.escalation_requests,
    )
    assert e.decisions_accepted == scenario.expected.decisions[True]
    assert e.by_tier == {"L2": scenario.expected.escalated}
    overall = next(r for r in summary.repeats if r.channel == "ALL")
    assert (overall.cases, overall.repeats) == (scenario.expected.cases, scenario.expected.repeats)

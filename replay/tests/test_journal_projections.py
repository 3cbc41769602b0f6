"""Notifications (delivery journal) and escalation decisions."""

from __future__ import annotations

from google.protobuf.message import Message

from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.escalation.v1 import events_pb2 as ee
from casedesk.notification.v1 import events_pb2 as ne
from casedesk_replay.projections import ReplayState
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import Scenario
from casedesk_replay_testing.synthetic.builders import MINUTE, T0, notification_event


def fold(stream: Stream, *events: Message) -> ReplayState:
    state = ReplayState()
    state.apply(stream, list(events))
    return state


def test_a_notification_retried_then_sent_is_sent_after_two_attempts() -> None:
    events = [
        notification_event("n-1", T0, requested=ne.Requested(sms_segments=0)),
        notification_event("n-1", T0 + MINUTE, failed=ne.Failed(attempt=1, error="421 busy")),
        notification_event("n-1", T0 + 2 * MINUTE, sent=ne.Sent(attempt=2)),
    ]
    row = fold(Stream.NOTIFICATION, *events).notifications.notifications["n-1"]
    assert (row["state"], row["attempts"], row["failures"]) == ("SENT", 2, 1)
    assert (row["channel"], row["template"], row["case_id"]) == (
        "EMAIL", "status_changed@v1", "case-1",
    )  # fmt: skip
    assert row["sent_at"] is not None


def test_a_late_duplicate_of_a_failure_does_not_undo_a_sent_notification() -> None:
    failure = notification_event("n-1", T0, failed=ne.Failed(attempt=1, error="timeout"))
    sent = notification_event("n-1", T0 + MINUTE, sent=ne.Sent(attempt=2))
    row = fold(Stream.NOTIFICATION, failure, sent, failure).notifications.notifications["n-1"]
    assert (row["state"], row["failures"]) == ("SENT", 1)


def test_a_dead_lettered_notification_keeps_a_masked_error() -> None:
    error = "550 mailbox ivanov@example.ru unavailable"
    events = [
        notification_event("n-2", T0, failed=ne.Failed(attempt=1, error=error)),
        notification_event(
            "n-2", T0 + MINUTE, dead_lettered=ne.DeadLettered(attempts=1, error=error)
        ),
    ]
    row = fold(Stream.NOTIFICATION, *events).notifications.notifications["n-2"]
    assert row["state"] == "DEAD_LETTERED"
    assert "ivanov@" not in row["last_error"] and "example.ru" in row["last_error"]


def test_notifys_own_decisions_are_states_of_their_own_and_never_failures() -> None:
    held = ne.Held(reason="held: recipient limit of 2 notices per 60 s reached", attempt=0)
    events = [
        notification_event("n-1", T0, requested=ne.Requested()),
        notification_event("n-1", T0 + MINUTE, held=held),
        notification_event("n-1", T0 + 2 * MINUTE, sent=ne.Sent(attempt=1)),
        notification_event("n-2", T0, held=held),
        notification_event("n-2", T0 + MINUTE, superseded=ne.Superseded(reason="by n-3")),
        notification_event("n-4", T0, merged=ne.Merged(reason="merged into n-5: ...")),
        notification_event("n-6", T0, suppressed=ne.Suppressed(reason="citizen erased")),
        notification_event("n-7", T0, held=held),
    ]  # fmt: skip
    rows = fold(Stream.NOTIFICATION, *events).notifications.notifications
    assert {n: (r["state"], r["failures"], r["last_error"]) for n, r in rows.items()} == {
        "n-1": ("SENT", 0, ""), "n-2": ("SUPERSEDED", 0, ""), "n-4": ("MERGED", 0, ""),
        "n-6": ("SUPPRESSED", 0, ""), "n-7": ("HELD", 0, ""),
    }  # fmt: skip


def test_a_decision_an_older_notify_journaled_as_failed_is_read_as_the_decision() -> None:
    old = [
        ("n-1", "held: recipient limit of 2 notices per 60 s reached", "HELD"),
        ("n-2", "merged into n-9: the status notice that followed ...", "MERGED"),
        ("n-3", "citizen erased", "SUPPRESSED"),
        ("n-4", "superseded by n-8: a later status notice of the same case", "SUPERSEDED"),
        ("n-5", "421 try again later", "FAILED"),
    ]
    events = [notification_event(n, T0, failed=ne.Failed(attempt=1, error=e)) for n, e, _ in old]
    rows = fold(Stream.NOTIFICATION, *events).notifications.notifications
    assert [(rows[n]["state"], rows[n]["failures"]) for n, _, _ in old] == [
        (state, 1 if state == "FAILED" else 0) for _, _, state in old
    ]


def decision(event_id: str, accepted: bool) -> ee.EscalationDecision:
    return ee.EscalationDecision(
        meta=envelope_pb2.EventMeta(event_id=event_id, case_id="case-1"),
        trigger_event_id="breach-7",
        accepted=accepted,
        from_tier=types_pb2.L1,
        to_tier=types_pb2.L2 if accepted else types_pb2.L1,
        policy_version="escalation-v1",
    )


def test_escalation_decisions_are_logged_once_each() -> None:
    state = fold(
        Stream.ESCALATION, decision("d-1", True), decision("d-2", False), decision("d-1", True)
    )
    rows = state.escalations.rows
    assert [(r.source, r.accepted, r.to_tier, r.cause_ref) for r in rows] == [
        ("DECIDED", True, "L2", "breach-7"),
        ("DECIDED", False, "L1", "breach-7"),
    ]


def test_synthetic_journal_matches_what_was_produced(scenario: Scenario) -> None:
    state = ReplayState()
    for stream, events in scenario.streams().items():
        state.apply(stream, events)
    states: dict[str, int] = {}
    for row in state.notifications.notifications.values():
        states[row["state"]] = states.get(row["state"], 0) + 1
    assert states == dict(scenario.expected.notifications)
    decided = [r for r in state.escalations.rows if r.source == "DECIDED"]
    assert sum(1 for r in decided if r.accepted) == scenario.expected.decisions[True]
    assert sum(1 for r in decided if not r.accepted) == scenario.expected.decisions[False]
    escalated = [r for r in state.escalations.rows if r.source == "ESCALATED"]
    assert len(escalated) == scenario.expected.escalated

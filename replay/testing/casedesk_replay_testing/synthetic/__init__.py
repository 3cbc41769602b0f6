"""Synthetic, well-formed event streams with known totals: for tests, benchmarks and demos.

`generate(cases)` plays random legal lifecycles and publishes what each service would have
published for them: case.events.v1, sla.events.v1 (under a policy of the deadline library),
notification.events.v1 and escalation.decisions.v1, plus the counts a replay must find.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from casedesk.case.v1 import events_pb2 as ce
from casedesk.common.v1 import envelope_pb2, types_pb2
from casedesk.escalation.v1 import events_pb2 as ee
from casedesk.notification.v1 import events_pb2 as ne
from casedesk.sla.v1 import events_pb2 as se
from casedesk_deadlines import Policy, default_policy
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic.clocks import sla_events
from casedesk_replay_testing.synthetic.deliveries import deliveries, notifies
from casedesk_replay_testing.synthetic.lifecycle import SYSTEM, CaseStory, new_case, work_case
from casedesk_runtime.events import from_timestamp

# A Monday, so the stream crosses weekends and the working Saturday of 2025-11-01.
DEFAULT_START = datetime(2025, 10, 20, 6, 0, tzinfo=UTC)


@dataclass
class Expected:
    """What a replay of the scenario must count."""

    cases: int = 0
    repeats: int = 0
    transitions: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    breaches: int = 0
    escalation_requests: int = 0
    escalated: int = 0
    decisions: Counter[bool] = field(default_factory=Counter)
    notifications: Counter[str] = field(default_factory=Counter)


@dataclass
class Scenario:
    case_events: list[ce.CaseEvent]
    sla_events: list[se.SlaEvent]
    notification_events: list[ne.NotificationEvent]
    decisions: list[ee.EscalationDecision]
    as_of: datetime
    policy: Policy
    expected: Expected

    def streams(self) -> dict[Stream, list]:  # type: ignore[type-arg]
        return {
            Stream.CASE: self.case_events,
            Stream.SLA: self.sla_events,
            Stream.NOTIFICATION: self.notification_events,
            Stream.ESCALATION: self.decisions,
        }

    @property
    def total_events(self) -> int:
        return sum(len(events) for events in self.streams().values())


def generate(
    cases: int,
    *,
    seed: int = 1,
    start: datetime = DEFAULT_START,
    spacing: timedelta = timedelta(seconds=97),
    policy: Policy | None = None,
    repeat_share: float = 0.08,
) -> Scenario:
    rng = random.Random(seed)
    policy = policy or default_policy()
    expected = Expected()
    decisions: list[ee.EscalationDecision] = []

    def decide(story: CaseStory, request: ce.CaseEvent) -> bool:
        accepted = rng.random() < 0.7
        decisions.append(_decision(request, story.tier, accepted))
        expected.decisions[accepted] += 1
        return accepted

    stories: list[CaseStory] = []
    serial = 0
    for index in range(cases):
        serial += 1
        story = new_case(serial, start + spacing * index, rng)
        work_case(story, rng, decide)
        stories.append(story)
        if (
            story.status in (types_pb2.ANSWER_READY, types_pb2.CLOSED)
            and rng.random() < repeat_share
        ):
            serial += 1
            story.at += timedelta(hours=1)
            repeat = new_case(serial, story.at, rng, repeat_of=story.case_id,
                              channel=story.events[0].created.channel)  # fmt: skip
            story.record(SYSTEM, repeated=ce.Repeated(new_case_id=repeat.case_id,
                                                      new_case_number=repeat.number))  # fmt: skip
            work_case(repeat, rng, decide)
            stories.append(repeat)
            expected.repeats += 1

    case_events = [event for story in stories for event in story.events]
    as_of = max(from_timestamp(e.meta.occurred_at) for e in case_events) + timedelta(seconds=1)
    sla = [event for story in stories for event in sla_events(story.events, policy, as_of)]
    notifications: list[ne.NotificationEvent] = []
    for event in case_events:
        if notifies(event):
            for fate, journal_event in deliveries(event, rng):
                notifications.append(journal_event)
                if journal_event.HasField("requested"):
                    expected.notifications[fate] += 1
    _count(expected, stories, sla)
    return Scenario(case_events, sla, notifications, decisions, as_of, policy, expected)


def _count(expected: Expected, stories: list[CaseStory], sla: list[se.SlaEvent]) -> None:
    expected.cases = len(stories)
    for story in stories:
        expected.statuses[types_pb2.Status.Name(story.status)] += 1
        for event in story.events:
            expected.transitions += event.HasField("status_changed")
            expected.escalation_requests += event.HasField("escalation_requested")
            expected.escalated += event.HasField("escalated")
    expected.breaches = sum(event.HasField("breached") for event in sla)


def _decision(request: ce.CaseEvent, tier: int, accepted: bool) -> ee.EscalationDecision:
    meta = envelope_pb2.EventMeta(
        event_id=f"{request.meta.event_id}/decision", case_id=request.meta.case_id,
        case_version=request.meta.case_version, event_type="escalation.Decision",
        occurred_at=request.meta.occurred_at,
        actor=types_pb2.Actor(kind=types_pb2.Actor.SYSTEM, id="casedesk-escalation"),
    )  # fmt: skip
    return ee.EscalationDecision(
        meta=meta, trigger_event_id=request.meta.event_id,
        reason=request.escalation_requested.reason, accepted=accepted,
        from_tier=tier, to_tier=tier + 1 if accepted else tier,  # type: ignore[arg-type]
        policy_version="escalation-v1",
    )  # fmt: skip

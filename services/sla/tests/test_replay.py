"""Replay determinism: the live engine and a replay of the same case log decide the same events."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sla_builders import SECOND, T0, case_stream, moment

from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.application.engine import ConsumedEvent, SlaEngine
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook, SlaKind
from casedesk_sla.replaying import merge_partitions, replay
from casedesk_sla.settings import SlaSettings
from casedesk_sla.testing import ManualClock
from casedesk_sla.wire.case_events import case_fact, event_time
from casedesk_sla.wire.sla_events import sla_event
from casedesk_vocabulary.enums import ActorKind, Category, Channel, Status, Tier

TOPIC = "case.events.v1"
# What a specialist or the citizen may do next, by status (the case service's lifecycle).
MOVES = {
    "REGISTERED": ["IN_PROGRESS", "reply"],
    "IN_PROGRESS": ["WAITING_FOR_CITIZEN", "ANSWER_READY", "reply", "escalate"],
    "WAITING_FOR_CITIZEN": ["IN_PROGRESS", "ANSWER_READY"],
    "ANSWER_READY": ["CLOSED"],
    "CLOSED": [],
}


def history(
    case_id: str,
    start: int,
    choices: list[tuple[int, int]],
    channel: Channel = Channel.PORTAL_CHAT,
    category: Category = Category.TECHNICAL_FAULT,
) -> list:
    """A lifecycle-respecting event list for one case, driven by (delay, choice) pairs."""
    case = case_stream(case_id, start, channel=channel)
    events = [case.created(category=category)]
    status, at = "REGISTERED", start
    for delay, choice in choices:
        moves = MOVES[status]
        if not moves:
            break
        move = moves[choice % len(moves)]
        at += delay
        if move == "reply":
            events.append(case.commented(public=True, at=moment(at)))
        elif move == "escalate":
            events.append(case.escalated(from_tier=Tier.L1, to_tier=Tier.L2, at=moment(at)))
        else:
            citizen = status == "WAITING_FOR_CITIZEN" and move == "IN_PROGRESS"
            actor = ActorKind.CITIZEN if citizen else ActorKind.SPECIALIST
            events.append(case.status_changed(to=Status(move), by=actor, at=moment(at)))
            status = move
    return events


cases = st.lists(
    st.tuples(
        st.integers(0, 5 * SECOND),
        st.lists(st.tuples(st.integers(0, 6 * SECOND), st.integers(0, 3)), max_size=8),
    ),
    min_size=1,
    max_size=6,
)


def live_run(
    db: Path, partitions: list[list], end: int, policy: str = "test-seconds"
) -> dict[str, bytes]:
    """Feed the log as the service would see it: ticks of the wall clock between events."""
    clock = ManualClock(T0)
    store = SqliteClockStore(db)
    watermarks = Watermarks()
    keys = [(TOPIC, p) for p in range(len(partitions))]
    watermarks.assign(keys)
    for key in keys:
        watermarks.set_caught_up(key, True)
    engine = SlaEngine(SlaBook(PolicyRegistry(policy)), store, clock, watermarks)
    offsets = dict.fromkeys(keys, 0)
    where = {id(e): (p, e) for p, events in enumerate(partitions) for e in events}
    for event in merge_partitions(partitions):
        partition = where[id(event)][0]
        clock.set(max(clock.now(), event_time(event)))
        engine.tick()
        key = (TOPIC, partition)
        engine.consume([ConsumedEvent(key, offsets[key], event_time(event), case_fact(event))])
        offsets[key] += 1
    clock.set(max(clock.now(), end))
    engine.tick()
    return {row.event_id: row.payload for row in store.pending(100_000)}


def backlog_run(db: Path, partitions: list[list], end: int) -> dict[str, bytes]:
    """The whole log read after an outage, partition by partition, with the wall clock at `end`."""
    clock = ManualClock(end)
    store = SqliteClockStore(db)
    watermarks = Watermarks()
    keys = [(TOPIC, p) for p in range(len(partitions))]
    watermarks.assign(keys)
    engine = SlaEngine(SlaBook(PolicyRegistry("test-seconds")), store, clock, watermarks)
    for key, events in zip(keys, partitions, strict=True):
        for offset, event in enumerate(events):
            engine.consume([ConsumedEvent(key, offset, event_time(event), case_fact(event))])
    for key in keys:
        watermarks.set_caught_up(key, True)
    engine.tick()
    return {row.event_id: row.payload for row in store.pending(100_000)}


def generated_log(generated) -> list[list]:
    partitions: list[list] = [[], []]
    for number, (offset, choices) in enumerate(generated):
        partitions[number % 2].extend(history(f"case-{number}", T0 + offset, choices))
    # The case service's relay publishes in commit order, so each partition is in time order.
    return [sorted(events, key=event_time) for events in partitions]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases)
def test_replay_reproduces_the_live_events(tmp_path_factory, generated) -> None:
    partitions = generated_log(generated)
    end = T0 + 120 * SECOND
    live = live_run(tmp_path_factory.mktemp("live") / "sla.sqlite3", partitions, end)

    replayed = replay(merge_partitions(partitions), PolicyRegistry("test-seconds"), end + 1)

    assert {f.event_id: sla_event(f).SerializeToString() for f in replayed.facts} == live


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cases)
def test_a_backlog_after_an_outage_decides_what_live_service_would(tmp_path_factory, generated):
    partitions = generated_log(generated)
    end = T0 + 120 * SECOND

    backlog = backlog_run(tmp_path_factory.mktemp("backlog") / "sla.sqlite3", partitions, end)
    live = live_run(tmp_path_factory.mktemp("live") / "sla.sqlite3", partitions, end)

    assert backlog == live


HOUR = 3600 * SECOND
# Cases of every channel and category, hours apart, over weekends: the regulation's units and the
# category targets of 2026.1, not only the test policy's seconds.
regulated_cases = st.lists(
    st.tuples(
        st.integers(0, 30 * HOUR),
        st.sampled_from(list(Channel)),
        st.sampled_from(list(Category)),
        st.lists(st.tuples(st.integers(0, 20 * HOUR), st.integers(0, 3)), max_size=6),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(regulated_cases)
def test_replay_reproduces_the_live_events_under_the_default_policy(
    tmp_path_factory, generated
) -> None:
    partitions: list[list] = [[], []]
    for number, (offset, channel, category, choices) in enumerate(generated):
        events = history(f"case-{number}", T0 + offset, choices, channel, category)
        partitions[number % 2].extend(events)
    partitions = [sorted(events, key=event_time) for events in partitions]
    end = T0 + 10 * 24 * HOUR
    policy = SlaSettings().sla_policy_version
    live = live_run(tmp_path_factory.mktemp("live") / "sla.sqlite3", partitions, end, policy)

    replayed = replay(merge_partitions(partitions), PolicyRegistry(policy), end + 1)

    assert {f.event_id: sla_event(f).SerializeToString() for f in replayed.facts} == live
    assert {f.policy_version for f in replayed.facts} == {"2026.1"}


def test_another_policy_answers_what_if() -> None:
    chat = case_stream("chat-1")
    log = [
        chat.created(),
        chat.commented(public=True, at=moment(T0 + 10 * SECOND)),
        chat.status_changed(to=Status.IN_PROGRESS, at=moment(T0 + 20 * SECOND)),
    ]

    seconds = replay(log, PolicyRegistry("test-seconds"), T0 + 60 * SECOND)
    regulation = replay(log, PolicyRegistry("2023.1"), T0 + 60 * SECOND)

    assert [f.target.value for f in seconds.facts if f.kind is SlaKind.BREACHED] == [
        "FIRST_RESPONSE",
        "RESOLUTION",
    ]
    assert [f for f in regulation.facts if f.kind is SlaKind.BREACHED] == []
    assert {f.policy_version for f in regulation.facts} == {"2023.1"}


def test_a_republished_created_of_a_finished_case_is_ignored_as_live() -> None:
    chat = case_stream("chat-1")
    created = chat.created()
    log = [
        created,
        chat.status_changed(to=Status.IN_PROGRESS, at=moment(T0 + SECOND)),
        chat.status_changed(to=Status.ANSWER_READY, at=moment(T0 + 2 * SECOND)),
        created,  # the case service's relay crashed and published it again
    ]

    result = replay(log, PolicyRegistry("test-seconds"), T0 + 60 * SECOND)

    assert [f.kind for f in result.facts].count(SlaKind.STARTED) == 2
    assert [f for f in result.facts if f.kind is SlaKind.BREACHED] == []

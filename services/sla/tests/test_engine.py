"""The engine with a real SQLite store and an injected clock: restarts, backlogs, exactly once."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from sla_builders import SECOND, T0, case_stream, moment, msk

from casedesk.case.v1.events_pb2 import CallbackRecorded
from casedesk.sla.v1 import events_pb2 as sla_events
from casedesk_runtime.testing.case_events import CaseEvent, CaseStream
from casedesk_sla.adapters.store import OutboxRow, SqliteClockStore
from casedesk_sla.application.engine import ConsumedEvent, SlaEngine
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook
from casedesk_sla.settings import SlaSettings
from casedesk_sla.testing import ManualClock
from casedesk_sla.wire.case_events import case_fact, event_time
from casedesk_vocabulary.enums import ActorKind, Category, Channel, Status

TOPIC = "case.events.v1"
HOUR = 3600 * SECOND
# The policy the service starts new clocks under when none is configured (2026.1).
DEFAULT_POLICY = SlaSettings().sla_policy_version
TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
PARTITIONS = [(TOPIC, 0), (TOPIC, 1)]


class Service:
    """One incarnation of the service over a database file; dropping it is a kill -9."""

    def __init__(self, db: Path, clock: ManualClock, policy: str = "test-seconds") -> None:
        self.store = SqliteClockStore(db)
        book = SlaBook(PolicyRegistry(policy), is_retired=self.store.is_retired)
        self.store.load(book)
        watermarks = Watermarks(self.store.positions())
        watermarks.assign(PARTITIONS)
        for key in PARTITIONS:
            watermarks.set_caught_up(key, True)
        self.engine = SlaEngine(book, self.store, clock, watermarks)

    def next_offset(self, partition: int) -> int:
        position = self.engine.watermarks.position((TOPIC, partition))
        return position.next_offset if position else 0

    def consume(self, partition: int, *events, traceparent: str | None = None):
        offset = self.next_offset(partition)
        batch = [
            ConsumedEvent((TOPIC, partition), offset + i, event_time(e), case_fact(e, traceparent))
            for i, e in enumerate(events)
        ]
        return self.engine.consume(batch)

    def published_rows(self) -> list[OutboxRow]:
        """Publish (and delete) the outbox, as the relay does."""
        rows = self.store.pending(10_000)
        if rows:
            self.store.mark_published(rows[-1].seq)
        return rows

    def published(self) -> list[sla_events.SlaEvent]:
        return [sla_events.SlaEvent.FromString(row.payload) for row in self.published_rows()]


def summary(events: list[sla_events.SlaEvent]) -> list[tuple[str, str, str]]:
    return [
        (e.meta.case_id, sla_events.Target.Name(e.target), e.WhichOneof("payload")) for e in events
    ]


def opened(case_id: str) -> CaseEvent:
    """The `Created` of a chat case registered at T0."""
    return case_stream(case_id).created()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "sla.sqlite3"


def test_kill_between_warning_and_breach_yields_each_exactly_once(db: Path, clock: ManualClock):
    first = Service(db, clock)
    first.consume(0, opened("chat-1"))
    clock.set(T0 + 3_300_000)
    first.engine.tick()
    before = first.published()
    del first  # kill -9: nothing else is written

    clock.set(T0 + 9 * SECOND)  # both breaches fell due while the service was down
    second = Service(db, clock)
    second.engine.tick()
    second.engine.tick()
    after = second.published()

    assert summary(before) == [
        ("chat-1", "FIRST_RESPONSE", "started"),
        ("chat-1", "RESOLUTION", "started"),
        ("chat-1", "FIRST_RESPONSE", "warning"),
    ]
    assert summary(after) == [
        ("chat-1", "FIRST_RESPONSE", "breached"),
        ("chat-1", "RESOLUTION", "warning"),
        ("chat-1", "RESOLUTION", "breached"),
    ]
    breach = after[0]
    assert breach.due_at.ToMicroseconds() == T0 + 4 * SECOND
    assert breach.breached.fired_at == breach.due_at
    assert breach.policy_version == "test-seconds"


def test_breach_after_a_kill_carries_the_trace_of_the_created(db: Path, clock: ManualClock):
    first = Service(db, clock)
    first.consume(0, opened("chat-1"), traceparent=TRACE)
    clock.set(T0 + 3_300_000)
    first.engine.tick()
    before = first.published_rows()
    del first  # kill -9: the trace survives only in the store

    clock.set(T0 + 9 * SECOND)
    second = Service(db, clock)
    second.engine.tick()
    after = second.published_rows()

    assert [row.event_type for row in before + after] == [
        "sla.ClockStarted", "sla.ClockStarted", "sla.Warning",
        "sla.Breached", "sla.Warning", "sla.Breached",
    ]  # fmt: skip
    assert {row.traceparent for row in before + after} == {TRACE}


def test_store_of_an_earlier_release_gains_the_trace_column(db: Path, clock: ManualClock):
    old = Service(db, clock)
    old.consume(0, opened("chat-1"))
    old.store.close()
    with contextlib.closing(sqlite3.connect(db)) as raw:  # as the previous release created it
        raw.execute("ALTER TABLE sla_case DROP COLUMN trace_context")

    upgraded = Service(db, clock)
    upgraded.consume(0, opened("chat-2"), traceparent=TRACE)
    clock.set(T0 + 5 * SECOND)
    upgraded.engine.tick()
    restarted = Service(db, clock)

    breaches = {
        row.case_id: row.traceparent
        for row in restarted.published_rows()
        if row.event_type == "sla.Breached"
    }
    assert breaches == {"chat-1": None, "chat-2": TRACE}
    assert len(restarted.engine.book.table) == 2


def test_alarms_after_a_kill_carry_the_correlation_of_the_event_that_set_them(
    db: Path, clock: ManualClock
):
    first = Service(db, clock)
    chat = case_stream("chat-1")
    first.consume(0, chat.created())
    waiting = chat.status_changed(to=Status.WAITING_FOR_CITIZEN, at=moment(T0 + SECOND))
    answered = chat.status_changed(
        to=Status.IN_PROGRESS,
        by=ActorKind.CITIZEN,
        at=moment(T0 + 2 * SECOND),
        correlation_id="citizen-answer-1",
    )
    first.consume(0, waiting, answered)
    first.published()
    del first  # kill -9: the correlation ids survive only in the store

    clock.set(T0 + 20 * SECOND)
    second = Service(db, clock)
    second.engine.tick()

    # First response was met by the specialist's move; resolution resumed with the answer.
    assert [(e.WhichOneof("payload"), e.meta.correlation_id) for e in second.published()] == [
        ("warning", "citizen-answer-1"),
        ("breached", "citizen-answer-1"),
    ]


def test_store_of_an_earlier_release_gains_the_correlation_column(db: Path, clock: ManualClock):
    old = Service(db, clock)
    old.consume(0, opened("chat-1"))
    old.store.close()
    with contextlib.closing(sqlite3.connect(db)) as raw:  # as the previous release created it
        raw.execute("ALTER TABLE sla_case DROP COLUMN correlation_id")

    upgraded = Service(db, clock)
    upgraded.consume(0, opened("chat-2"))
    clock.set(T0 + 5 * SECOND)
    upgraded.engine.tick()
    restarted = Service(db, clock)

    published = restarted.published()
    breaches = {e.meta.case_id: e.meta.correlation_id for e in published if e.HasField("breached")}
    assert breaches == {"chat-1": "", "chat-2": "corr-chat-2"}


def test_crash_before_publishing_keeps_events_in_the_outbox(db: Path, clock: ManualClock):
    first = Service(db, clock)
    first.consume(0, opened("chat-1"))
    clock.set(T0 + 5 * SECOND)
    first.engine.tick()
    del first  # killed before the relay ran

    second = Service(db, clock)
    kinds = [e.WhichOneof("payload") for e in second.published()]

    assert kinds == ["started", "started", "warning", "breached"]


def test_restart_resumes_at_the_stored_offsets(db: Path, clock: ManualClock):
    first = Service(db, clock)
    first.consume(0, opened("chat-1"))
    first.consume(1, opened("chat-2"))
    first.published()

    second = Service(db, clock)

    assert (second.next_offset(0), second.next_offset(1)) == (1, 1)
    assert len(second.engine.book.table) == 2


def test_redelivered_events_change_nothing(db: Path, clock: ManualClock):
    service = Service(db, clock)
    chat = case_stream("chat-1")
    story = [chat.created(), chat.commented(public=True, at=moment(T0 + SECOND))]
    service.consume(0, *story)
    service.published()

    service.consume(0, *story)

    assert service.published() == []


def test_created_of_a_finished_case_does_not_start_it_again(db: Path, clock: ManualClock):
    service = Service(db, clock)
    chat = case_stream("chat-1")
    created = chat.created()
    service.consume(0, created)
    service.consume(0, chat.status_changed(to=Status.IN_PROGRESS, at=moment(T0 + SECOND)))
    service.consume(0, chat.status_changed(to=Status.ANSWER_READY, at=moment(T0 + 2 * SECOND)))
    service.published()
    restarted = Service(db, clock)

    restarted.consume(0, created)

    assert restarted.published() == []
    assert len(restarted.engine.book.table) == 0


def test_internal_note_and_citizen_comment_are_no_first_response(db: Path, clock: ManualClock):
    service = Service(db, clock)
    chat = case_stream("chat-1")
    service.consume(0, chat.created())
    service.published()

    service.consume(
        0,
        chat.commented(public=False, at=moment(T0 + SECOND)),
        chat.commented(public=True, by=ActorKind.CITIZEN),
    )

    assert service.published() == []


def test_a_phone_callback_that_reached_the_citizen_meets_the_first_response(
    db: Path, clock: ManualClock
):
    service = Service(db, clock)
    phone = case_stream("phone-1", channel=Channel.PHONE)
    service.consume(0, phone.created())
    service.published()
    missed = CallbackRecorded(reached=False, note="не ответил")
    reached = CallbackRecorded(reached=True, note="объяснил, как войти")

    service.consume(
        0, phone.event("callback_recorded", missed, by=ActorKind.SPECIALIST, at=moment(T0 + SECOND))
    )
    assert service.published() == []  # a call nobody answered is no response
    service.consume(
        0,
        phone.event(
            "callback_recorded", reached, by=ActorKind.SPECIALIST, at=moment(T0 + 2 * SECOND)
        ),
    )

    met = service.published()
    assert summary(met) == [("phone-1", "FIRST_RESPONSE", "met")]
    assert met[0].met.late is False


def test_unknown_channel_is_refused_before_its_offset_is_consumed(db: Path, clock: ManualClock):
    service = Service(db, clock)
    bad = opened("odd-1")
    bad.created.channel = 0  # CHANNEL_UNSPECIFIED

    refused = service.consume(0, opened("chat-0"), bad, opened("chat-1"))

    # Stored up to the refused record, which is not consumed until its dead letter is acked.
    assert refused is not None and refused.event.offset == 1
    assert [event.offset for event in refused.rest] == [2]
    assert service.next_offset(0) == 1
    assert service.engine.consume([refused.event.passed(), *refused.rest]) is None
    assert service.next_offset(0) == 3
    assert [e.meta.case_id for e in service.published()] == ["chat-0"] * 2 + ["chat-1"] * 2


def test_lagging_partition_holds_alarms_at_its_event_time(db: Path, clock: ManualClock):
    service = Service(db, clock)
    service.consume(0, opened("chat-1"))
    service.published()
    watermarks = service.engine.watermarks
    watermarks.set_caught_up((TOPIC, 1), False)
    service.consume(1, case_stream("chat-2", T0 + SECOND).created())
    clock.set(T0 + 20 * SECOND)

    service.engine.tick()
    held = service.published()
    watermarks.set_caught_up((TOPIC, 1), True)
    service.engine.tick()
    released = service.published()

    # Partition 1 is read only up to T0 + 1 s: nothing after that instant may fire yet.
    assert [e.WhichOneof("payload") for e in held] == ["started", "started"]
    assert [e.WhichOneof("payload") for e in released].count("breached") == 4


def by_kind(events: list[sla_events.SlaEvent]) -> dict[tuple[str, str, str], sla_events.SlaEvent]:
    """(case, target, kind) -> the event, for the events of one publish round."""
    return dict(zip(summary(events), events, strict=True))


def sign_in_email(case_id: str, at: int) -> tuple[CaseStream, list[CaseEvent]]:
    """A sign-in problem by e-mail, taken up an hour later and put to the citizen after three."""
    case = case_stream(case_id, at, channel=Channel.EMAIL)
    return case, [
        case.created(category=Category.REGISTRATION_SIGN_IN),
        case.status_changed(to=Status.IN_PROGRESS, at=moment(at + HOUR)),
        case.status_changed(to=Status.WAITING_FOR_CITIZEN, at=moment(at + 3 * HOUR)),
    ]


def test_a_case_opened_under_2023_1_keeps_it_after_the_default_changed(
    db: Path, clock: ManualClock
):
    friday_15 = msk(2026, 3, 13, 15, 0)
    clock.set(friday_15 + 3 * HOUR)
    old = Service(db, clock, policy="2023.1")  # the release before 2026.1 became the default
    email, story = sign_in_email("email-1", friday_15)
    old.consume(0, *story)
    old.consume(
        1, case_stream("social-1", msk(2026, 3, 13, 17, 0), channel=Channel.SOCIAL).created()
    )
    started = by_kind(old.published())
    del old

    sunday_noon = msk(2026, 3, 15, 12, 0)
    clock.set(sunday_noon)
    new = Service(db, clock, policy=DEFAULT_POLICY)
    answered = email.status_changed(
        to=Status.IN_PROGRESS, by=ActorKind.CITIZEN, at=moment(sunday_noon)
    )
    new.consume(0, answered, sign_in_email("email-2", sunday_noon)[1][0])
    clock.set(msk(2026, 3, 16, 11, 0))
    new.engine.tick()
    after = by_kind(new.published())

    # Opened under 2023.1, the sign-in e-mail counted 3 working days: 3 of its 81 hours spent by
    # the pause (Friday 15:00-18:00), 78 left from Monday 00:00 -> Thursday 06:00.
    assert started["email-1", "RESOLUTION", "started"].due_at.ToMicroseconds() == msk(2026, 3, 19)
    resumed = after["email-1", "RESOLUTION", "resumed"]
    assert resumed.due_at.ToMicroseconds() == msk(2026, 3, 19, 6, 0)
    assert resumed.policy_version == "2023.1"
    # The social case's 2 business hours: 1 on Friday, 1 on Monday -> its breach at 10:00.
    breach = after["social-1", "FIRST_RESPONSE", "breached"]
    assert breach.due_at.ToMicroseconds() == msk(2026, 3, 16, 10, 0)
    assert breach.policy_version == "2023.1"
    # A case opened now starts under 2026.1: its sign-in problem is due 24 hours later.
    fresh = after["email-2", "RESOLUTION", "started"]
    assert fresh.due_at.ToMicroseconds() == sunday_noon + 24 * HOUR
    assert fresh.policy_version == "2026.1"


def test_store_of_an_earlier_release_gains_the_category_column(db: Path, clock: ManualClock):
    friday_15 = msk(2026, 3, 13, 15, 0)
    clock.set(friday_15 + 3 * HOUR)
    old = Service(db, clock, policy="2023.1")
    old.consume(0, *sign_in_email("email-1", friday_15)[1])
    old.store.close()
    with contextlib.closing(sqlite3.connect(db)) as raw:  # as the previous release created it
        raw.execute("ALTER TABLE sla_case DROP COLUMN category")

    upgraded = Service(db, clock, policy=DEFAULT_POLICY)
    upgraded.consume(0, *sign_in_email("email-2", friday_15 + 3 * HOUR)[1])
    restarted = Service(db, clock, policy=DEFAULT_POLICY)

    table = restarted.engine.book.table
    categories = {case_id: table.category_of(case) for case_id, case in table.index.items()}
    # The earlier release's clocks started on the channel's targets: no category keeps them there.
    assert categories == {"email-1": "", "email-2": "REGISTRATION_SIGN_IN"}
    with contextlib.closing(sqlite3.connect(db)) as raw:
        stored = dict(raw.execute("SELECT case_id, category FROM sla_case"))
    assert stored == categories

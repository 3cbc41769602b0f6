"""The alarm queue: ordering, strict firing bound, stale entries dropped and compacted."""

from __future__ import annotations

from sla_builders import SECOND, T0, CaseHistory

from casedesk_sla.domain import SlaBook, SlaKind
from casedesk_sla.domain.alarms import AlarmKind, AlarmQueue


def test_alarms_come_out_earliest_first_and_only_before_the_bound():
    queue = AlarmQueue()
    queue.push(T0 + 3, slot=7, kind=AlarmKind.BREACH)
    queue.push(T0 + 1, slot=2_000_000, kind=AlarmKind.WARNING)
    queue.push(T0 + 2, slot=0, kind=AlarmKind.BREACH)

    assert queue.next_at() == T0 + 1
    assert queue.pop_before(T0 + 1) is None
    assert queue.pop_before(T0 + 3) == (T0 + 1, 2_000_000, AlarmKind.WARNING)
    assert queue.pop_before(T0 + 3) == (T0 + 2, 0, AlarmKind.BREACH)
    assert queue.pop_before(T0 + 3) is None
    assert len(queue) == 1


def test_paused_clock_leaves_a_stale_alarm_that_never_fires(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))
    seconds_book.apply(case.reply(T0 + SECOND))
    seconds_book.apply(case.status(T0 + SECOND, "IN_PROGRESS", "WAITING_FOR_CITIZEN"))

    assert seconds_book.advance(T0 + 60 * SECOND) == []
    assert len(seconds_book.alarms) == 0  # the stale entries surfaced and were dropped


def test_many_pause_cycles_do_not_grow_the_queue_without_bound(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))
    seconds_book.apply(case.reply(T0))
    at = T0
    for _ in range(3_000):
        at += 1
        seconds_book.apply(case.status(at, "IN_PROGRESS", "WAITING_FOR_CITIZEN"))
        at += 1
        seconds_book.apply(case.status(at, "WAITING_FOR_CITIZEN", "IN_PROGRESS", True))
        seconds_book.advance(at)

    assert len(seconds_book.alarms) <= 4 * len(seconds_book.table) + 1024
    facts = seconds_book.advance(at + 10 * SECOND)
    assert [f.kind for f in facts] == [SlaKind.WARNING, SlaKind.BREACHED]


def test_a_book_driven_by_case_facts_alone_still_compacts_its_queue(seconds_book: SlaBook):
    # As a replay does that judges each case by its own events only.
    case = CaseHistory()
    seconds_book.apply(case.opened(T0))
    at = T0
    for _ in range(3_000):
        at += 1
        seconds_book.apply(case.status(at, "REGISTERED", "WAITING_FOR_CITIZEN"))
        at += 1
        seconds_book.apply(case.status(at, "WAITING_FOR_CITIZEN", "REGISTERED", True))

    assert len(seconds_book.alarms) <= 4 * len(seconds_book.table) + 1024


def test_pause_and_resume_facts_with_equal_due_instants_get_distinct_ids(regulation_book):
    # E-mail resolution counts working time only: pauses and resumes within one weekend leave
    # the due instant unchanged each time.
    case = CaseHistory()
    friday = T0 + 4 * 24 * 3600 * SECOND  # Friday 2026-03-06 10:00 Moscow time
    saturday = friday + 24 * 3600 * SECOND
    regulation_book.apply(case.opened(friday, channel="EMAIL"))
    regulation_book.apply(case.reply(friday))
    facts = []
    for hour in (1, 3):
        at = saturday + hour * 3600 * SECOND
        facts += regulation_book.apply(case.status(at, "IN_PROGRESS", "WAITING_FOR_CITIZEN"))
        facts += regulation_book.apply(
            case.status(at + 3600 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
        )

    assert [f.kind for f in facts] == [SlaKind.PAUSED, SlaKind.RESUMED] * 2
    assert len({f.due for f in facts}) == 1
    assert len({f.event_id for f in facts}) == 4

"""Warnings and breaches carry the correlation id of the case event that set their clock running."""

from __future__ import annotations

from dataclasses import replace

from sla_builders import SECOND, T0, CaseHistory

from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.domain import PolicyRegistry, SlaBook, SlaKind
from casedesk_vocabulary.enums import DeadlineTarget

RES = DeadlineTarget.RESOLUTION


def correlated(fact, correlation_id):
    return replace(fact, correlation_id=correlation_id)


def test_warning_and_breach_carry_the_correlation_of_the_created(seconds_book: SlaBook):
    seconds_book.apply(correlated(CaseHistory().opened(T0), "submit-1"))

    fired = seconds_book.advance(T0 + 9 * SECOND)

    assert [f.kind for f in fired] == [SlaKind.WARNING, SlaKind.BREACHED] * 2
    assert {f.correlation_id for f in fired} == {"submit-1"}


def test_after_a_resume_the_alarms_carry_the_correlation_of_the_resuming_event(
    seconds_book: SlaBook,
):
    case = CaseHistory()
    seconds_book.apply(correlated(case.opened(T0), "submit-1"))
    seconds_book.apply(correlated(case.status(T0 + SECOND, "REGISTERED", "IN_PROGRESS"), "take-1"))
    pause = case.status(T0 + 2 * SECOND, "IN_PROGRESS", "WAITING_FOR_CITIZEN")
    seconds_book.apply(correlated(pause, "ask-1"))
    resume = case.status(T0 + 10 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
    seconds_book.apply(correlated(resume, "answer-1"))

    fired = seconds_book.advance(T0 + 20 * SECOND)

    assert [(f.kind, f.target, f.correlation_id) for f in fired] == [
        (SlaKind.WARNING, RES, "answer-1"),
        (SlaKind.BREACHED, RES, "answer-1"),
    ]


def test_a_resume_without_correlation_id_keeps_the_one_kept(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(correlated(case.opened(T0), "submit-1"))
    seconds_book.apply(case.status(T0 + SECOND, "REGISTERED", "WAITING_FOR_CITIZEN"))
    resume = case.status(T0 + 2 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True)
    seconds_book.apply(correlated(resume, ""))

    fired = seconds_book.advance(T0 + 20 * SECOND)

    assert fired and {f.correlation_id for f in fired} == {"submit-1"}


def test_alarms_caught_up_before_a_later_event_keep_their_own_correlation(seconds_book: SlaBook):
    case = CaseHistory()
    seconds_book.apply(correlated(case.opened(T0), "submit-1"))

    facts = seconds_book.apply(correlated(case.reply(T0 + 5 * SECOND), "reply-1"))

    assert [(f.kind, f.correlation_id) for f in facts] == [
        (SlaKind.WARNING, "submit-1"),
        (SlaKind.BREACHED, "submit-1"),
        (SlaKind.MET, "reply-1"),
    ]


def test_a_reused_case_slot_does_not_inherit_the_previous_correlation(seconds_book: SlaBook):
    first = CaseHistory("case-1")
    seconds_book.apply(correlated(first.opened(T0), "submit-1"))
    seconds_book.apply(first.status(T0 + SECOND, "REGISTERED", "ANSWER_READY"))  # case retired

    seconds_book.apply(correlated(CaseHistory("case-2").opened(T0 + SECOND), ""))
    assert seconds_book.table.find("case-2") == 0  # the index case-1 had
    fired = seconds_book.advance(T0 + 20 * SECOND)

    assert fired and {f.correlation_id for f in fired} == {""}


def test_the_correlation_is_stored_with_the_clocks(tmp_path):
    store = SqliteClockStore(tmp_path / "sla.sqlite3")
    book = SlaBook(PolicyRegistry("test-seconds"))
    book.apply(correlated(CaseHistory().opened(T0), "submit-1"))
    store.save(book.table, book.take_changes(), {}, [])
    store.close()

    restarted = SlaBook(PolicyRegistry("test-seconds"))
    SqliteClockStore(tmp_path / "sla.sqlite3").load(restarted)
    fired = restarted.advance(T0 + 9 * SECOND)

    assert len(fired) == 4 and {f.correlation_id for f in fired} == {"submit-1"}

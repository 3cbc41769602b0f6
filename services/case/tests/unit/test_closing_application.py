"""The end of a case in the application (memory and SQLite): idempotent commands, who may, the
merge of two cases in one transaction, the auto-closer, the overdue repeat, the callbacks owed."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from pydantic import ValidationError

from casedesk_case.adapters.auto_close import AutoCloser
from casedesk_case.adapters.readmodel import CaseIndexProjector
from casedesk_case.application import CommandMeta
from casedesk_case.application.timeline import ClockState
from casedesk_case.application.views import CaseFilter, CaseOrder
from casedesk_case.domain.case import Case
from casedesk_case.domain.errors import (
    IdempotencyKeyReused,
    InvalidCommand,
    NotPermitted,
    PreconditionFailed,
    VersionConflict,
)
from casedesk_case.domain.values import (
    Attachment,
    CallbackPurpose,
    Channel,
    CloseReason,
    EscalationReason,
    Origin,
    Status,
    Tier,
)
from casedesk_case.settings import CaseSettings
from casedesk_case.testing import CaseApplication
from casedesk_case.testing.case_timeline import FixedClocks

from ..conftest import CITIZEN, SPECIALIST, answer, citizen, create, meta
from .test_person_commands import IVANOVA, ORLOVA, SIDOROVA, acting

WEEK = timedelta(days=7)


def answered(app: CaseApplication, **overrides: object) -> str:
    case_id = create(app, **overrides).case_id
    app.change_status(case_id, to_status=Status.IN_PROGRESS, reason="", meta=meta(SPECIALIST))
    answer(app, case_id)
    app.change_status(case_id, to_status=Status.ANSWER_READY, reason="", meta=meta(SPECIALIST))
    return case_id


def at_version(expected: int) -> CommandMeta:
    return replace(acting(ORLOVA), expected_version=expected)


def kinds(app: CaseApplication, case_id: str) -> list[str]:
    return [type(e).__name__ for e in app.history(case_id).events]


# -- the citizen's word -----------------------------------------------------------------------


def test_confirm_and_rate_are_idempotent(app: CaseApplication) -> None:
    case_id = answered(app)
    rated = app.rate_answer(case_id, score=5, comment="", channel=None, meta=meta(CITIZEN, "r1"))
    assert (
        app.rate_answer(case_id, score=5, comment="", channel=None, meta=meta(CITIZEN, "r1"))
        == rated
    )
    with pytest.raises(IdempotencyKeyReused):
        app.rate_answer(case_id, score=4, comment="", meta=meta(CITIZEN, "r1"))
    closed = app.confirm_answer(case_id, meta=meta(CITIZEN, "c1"))
    assert app.confirm_answer(case_id, meta=meta(CITIZEN, "c1")) == closed
    assert (closed.status, closed.close_reason) == (Status.CLOSED, CloseReason.ANSWER_CONFIRMED)
    assert closed.rating is not None and closed.rating.score == 5
    assert kinds(app, case_id)[-2:] == ["AnswerRated", "StatusChanged"]


def test_confirm_with_an_expected_version_that_moved_is_a_conflict(app: CaseApplication) -> None:
    case_id = answered(app)
    with pytest.raises(VersionConflict):
        app.confirm_answer(case_id, meta=meta(CITIZEN, expected=2))
    assert app.get_case(case_id).status is Status.ANSWER_READY


# -- a supervisor's closing and merging -------------------------------------------------------


def test_only_a_supervisor_closes_spam(app: CaseApplication) -> None:
    case_id = create(app).case_id
    with pytest.raises(NotPermitted, match="may not close cases as spam or merge duplicates"):
        app.close_case(
            case_id, reason=CloseReason.SPAM, explanation="реклама", meta=acting(SIDOROVA)
        )
    closed = app.close_case(
        case_id, reason=CloseReason.SPAM, explanation="реклама", meta=acting(ORLOVA, "s1")
    )
    assert (closed.status, closed.close_reason) == (Status.CLOSED, CloseReason.SPAM)
    again = app.close_case(
        case_id, reason=CloseReason.SPAM, explanation="реклама", meta=acting(ORLOVA, "s1")
    )
    assert again == closed
    with pytest.raises(PreconditionFailed, match="is closed: cannot close it again"):
        app.close_case(case_id, reason=CloseReason.SPAM, explanation="x", meta=acting(ORLOVA))


@pytest.mark.parametrize("reason", [CloseReason.DUPLICATE, CloseReason.CLOSED_BY_SPECIALIST])
def test_a_supervisor_closes_as_spam_only(app: CaseApplication, reason: CloseReason) -> None:
    with pytest.raises(InvalidCommand) as refused:
        app.close_case(create(app).case_id, reason=reason, explanation="x", meta=acting(ORLOVA))
    assert refused.value.field == "reason"


def test_a_merge_changes_both_cases_at_once_and_a_retry_returns_the_target(
    app: CaseApplication,
) -> None:
    duplicate, target = create(app).case_id, create(app).case_id
    merged = app.merge_cases(
        duplicate, target_case_id=target, reason="повтор", meta=acting(ORLOVA, "m1")
    )
    assert (merged.case_id, merged.merged_duplicates) == (target, (duplicate,))
    assert (
        app.merge_cases(
            duplicate, target_case_id=target, reason="повтор", meta=acting(ORLOVA, "m1")
        )
        == merged
    )
    closed = app.get_case(duplicate)
    assert (closed.status, closed.close_reason, closed.merged_into) == (
        Status.CLOSED, CloseReason.DUPLICATE, target,
    )  # fmt: skip
    assert kinds(app, duplicate)[-2:] == ["MergedInto", "StatusChanged"]
    assert kinds(app, target)[-1] == "DuplicateMerged"


def test_a_merge_decided_on_a_duplicate_that_moved_stores_nothing_and_is_decided_again(
    app: CaseApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two cases' events go in one transaction: when the duplicate changed between the
    decision and the save, the target's event is not stored either; the retry decides anew."""
    duplicate, target = create(app).case_id, create(app).case_id
    planner = app._planner  # the seam where the duplicate is read
    load = planner._load_case
    calls = []

    def load_then_someone_writes(case_id: UUID) -> Case:
        stale = load(case_id)
        if not calls:  # another replica comments on the duplicate meanwhile
            app.add_comment(duplicate, body="ещё", public=True, meta=meta(CITIZEN))
        calls.append(case_id)
        return stale

    monkeypatch.setattr(planner, "_load_case", load_then_someone_writes)
    merged = app.merge_cases(duplicate, target_case_id=target, reason="", meta=acting(ORLOVA))
    assert len(calls) == 2  # decided twice
    assert kinds(app, duplicate) == ["Created", "Assigned", "Commented", "MergedInto",
                                     "StatusChanged"]  # fmt: skip
    assert kinds(app, target) == ["Created", "Assigned", "DuplicateMerged"]
    assert merged.version == 3


def test_a_refused_merge_changes_neither_case(app: CaseApplication) -> None:
    duplicate = create(app).case_id
    other = create(app, citizen=citizen("sidorov")).case_id
    target = create(app).case_id
    with pytest.raises(InvalidCommand, match="same citizen's") as refused:
        app.merge_cases(duplicate, target_case_id=other, reason="", meta=acting(ORLOVA))
    assert refused.value.field == "target_case_id"
    with pytest.raises(VersionConflict):  # the target moved on: nothing is stored
        app.merge_cases(duplicate, target_case_id=target, reason="", meta=at_version(1))
    with pytest.raises(InvalidCommand, match="into itself"):
        app.merge_cases(duplicate, target_case_id=duplicate, reason="", meta=acting(ORLOVA))
    with pytest.raises(NotPermitted, match="only supervisors do"):
        app.merge_cases(duplicate, target_case_id=target, reason="", meta=acting(IVANOVA))
    assert kinds(app, duplicate) == kinds(app, target) == ["Created", "Assigned"]


# -- callbacks --------------------------------------------------------------------------------


def test_a_callback_is_recorded_by_a_specialist_of_the_cases_tier(app: CaseApplication) -> None:
    case_id = create(app, channel=Channel.PHONE).case_id
    app.escalate(case_id, to_tier=Tier.L2, reason=EscalationReason.CRITICAL_ERROR, meta=meta())
    with pytest.raises(NotPermitted, match="may not work an L2 case"):
        app.record_callback(case_id, reached=True, note="", meta=acting(IVANOVA))
    done = app.record_callback(case_id, reached=True, note="дозвонился", meta=acting(SIDOROVA))
    assert done.callback is None
    with pytest.raises(PreconditionFailed, match="not by PHONE"):
        app.record_callback(create(app).case_id, reached=True, note="", meta=acting(SIDOROVA))


def test_callbacks_owed_are_listed_earliest_due_first_in_pages(app: CaseApplication) -> None:
    first = create(app, channel=Channel.PHONE).case_id
    create(app, channel=Channel.EMAIL)
    second = create(app, channel=Channel.PHONE).case_id
    third = create(app, channel=Channel.PHONE).case_id
    app.record_callback(second, reached=True, note="", meta=meta(SPECIALIST))
    app.record_callback(third, reached=False, note="", meta=meta(SPECIALIST))
    CaseIndexProjector(app, app.index).catch_up()
    owed = CaseFilter(callback_owed=True, order=CaseOrder.CALLBACK)
    page = app.list_cases(owed, page_size=1)
    rest = app.list_cases(owed, page_size=1, page_token=page.next_page_token)
    assert [c.case_id for c in (*page.cases, *rest.cases)] == [first, third]
    assert rest.next_page_token == ""
    row = page.cases[0]
    assert row.callback is not None and row.callback.purpose is CallbackPurpose.FIRST_RESPONSE
    assert row.callback.due == app.get_case(first).callback.due  # type: ignore[union-attr]
    with pytest.raises(InvalidCommand):  # a token of another order
        app.list_cases(CaseFilter(order=CaseOrder.DEADLINE), page_token=page.next_page_token)


# -- the auto-closer --------------------------------------------------------------------------


def test_the_auto_closer_closes_an_answer_left_without_reaction_once(
    app: CaseApplication,
) -> None:
    quiet, asked = answered(app), answered(app)
    app.add_comment(asked, body="а если не помогло?", public=True, meta=meta(CITIZEN))
    CaseIndexProjector(app, app.index).catch_up()
    later = datetime.now(UTC) + WEEK
    assert AutoCloser(app, WEEK).scan(now=later - timedelta(minutes=1)) == 0
    # Two replicas scanning at once: one closes, the other's retry finds the same result.
    first, second = AutoCloser(app, WEEK), AutoCloser(app, WEEK)
    assert first.scan(now=later) == 1
    assert second.scan(now=later) == 1  # its key's receipt: the same closing, not another
    closed = app.get_case(quiet)
    assert (closed.status, closed.close_reason) == (Status.CLOSED, CloseReason.NO_REACTION)
    assert kinds(app, quiet).count("StatusChanged") == 3
    history = app.history(quiet).events
    assert history[-1].context.actor.kind.value == "SYSTEM"
    assert app.get_case(asked).status is Status.ANSWER_READY  # a question is owed
    CaseIndexProjector(app, app.index).catch_up()
    assert AutoCloser(app, WEEK).scan(now=later) == 0  # restarted: from the index again


# -- repeating an overdue case ----------------------------------------------------------------


def test_an_overdue_case_is_repeated_before_its_answer_by_another_channel(
    app: CaseApplication,
) -> None:
    case_id = create(app).case_id
    clocks = FixedClocks(app)
    with pytest.raises(PreconditionFailed, match="within its deadlines"):
        app.repeat_case(case_id, reason="нет ответа", meta=meta(CITIZEN))
    assert app.get_case(case_id).overdue is False
    clocks.set(case_id, ClockState.BREACHED, datetime.now(UTC) - timedelta(hours=1))
    assert app.get_case(case_id).overdue is True
    scan = Attachment("att-9", "скан.pdf", "application/pdf", 2048, "cd" * 32)
    repeat = app.repeat_case(
        case_id, reason="нет ответа", meta=meta(CITIZEN, "rep-1"), channel=Channel.PHONE,
        attachments=[scan],
    )  # fmt: skip
    assert (repeat.repeat_of, repeat.channel, repeat.attachments) == (
        case_id, Channel.PHONE, (scan,),
    )  # fmt: skip
    assert repeat.origin == Origin()  # the e-mail's origin is not the call's
    assert repeat.callback is not None  # a PHONE case: its deadlines, its callback
    assert app.repeat_case(
        case_id, reason="нет ответа", meta=meta(CITIZEN, "rep-1"), channel=Channel.PHONE,
        attachments=[scan],
    ) == repeat  # fmt: skip


def test_an_answered_case_is_not_overdue(app: CaseApplication) -> None:
    case_id = answered(app)
    FixedClocks(app).set(case_id, ClockState.BREACHED, datetime.now(UTC) - timedelta(hours=1))
    assert app.get_case(case_id).overdue is False


# -- the index before callbacks ---------------------------------------------------------------


def test_an_index_made_before_callbacks_gets_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    app = CaseApplication(env=env)
    case_id = create(app, channel=Channel.PHONE).case_id
    CaseIndexProjector(app, app.index).catch_up()
    app.close()
    with sqlite3.connect(path) as connection:  # as the index was before the columns
        connection.execute("DROP INDEX case_index_callback")
        connection.execute("ALTER TABLE case_index DROP COLUMN callback_due_us")
        connection.execute("ALTER TABLE case_index DROP COLUMN callback_purpose")
    app = CaseApplication(env=env)
    try:
        owed = CaseFilter(callback_owed=True, order=CaseOrder.CALLBACK)
        assert app.list_cases(owed).cases == []  # nothing known until rebuilt
        CaseIndexProjector(app, app.index).rebuild()
        assert [c.case_id for c in app.list_cases(owed).cases] == [case_id]
    finally:
        app.close()


# -- the setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "period"),
    [
        ("7", timedelta(days=7)),  # a bare number is days
        ("2d", timedelta(days=2)),
        ("36h", timedelta(hours=36)),
        ("90m", timedelta(minutes=90)),
        ("3s", timedelta(seconds=3)),  # the integration tests' seconds
        ("P5D", timedelta(days=5)),  # ISO 8601, as pydantic reads it
    ],
)
def test_the_auto_close_period_is_days_by_default_and_takes_units(
    value: str, period: timedelta
) -> None:
    assert CaseSettings(auto_close_after=value).auto_close_after == period  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["0", "-P1D", "soon", "5w"])
def test_an_auto_close_period_that_is_none_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="auto_close_after"):
        CaseSettings(auto_close_after=value)  # type: ignore[arg-type]

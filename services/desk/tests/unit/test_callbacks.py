"""«Перезвонить»: the callback tasks' page (ListCases callback_owed, overdue marked), its live
stream (a task leaves when the case no longer owes a callback), and the case page's form that
records a call (RecordCallback with the person's token, CSRF, clear refusals)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from casedesk_desk.application.ports import QueueChange, QueuePage, QueueQuery
from casedesk_desk.domain.callbacks import CallbackList, callback_left, callback_order_key
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.queue import QueueRow, Urgency
from casedesk_desk.web.app import COOKIE

from .apps import DeskUnderTest, desk_app
from .fakes import FakeCases, case_details, queue_row, signed_in


def _desk(cases: FakeCases, *roles: str) -> tuple[DeskUnderTest, str]:
    under_test = desk_app(cases)
    session = signed_in(under_test.store, "L1", *roles)
    under_test.client.cookies.set(COOKIE, session.session_id)
    return under_test, session.csrf_token


def _phone_row(number: str, due: datetime | None, **fields: object) -> QueueRow:
    return queue_row(number, channel="PHONE", callback_due=due, **fields)


def test_the_list_asks_for_the_callbacks_owed_and_marks_the_overdue_ones() -> None:
    now = datetime.now(UTC)
    cases = FakeCases()
    cases.pages = [
        QueuePage(
            [
                _phone_row("2026-000001", now - timedelta(minutes=7), callback_purpose="ANSWER"),
                _phone_row(
                    "2026-000002",
                    now + timedelta(minutes=25),
                    subject="<b>звонок</b>",
                    callback_purpose="FIRST_RESPONSE",
                ),
            ],
            "tok-2",
        )
    ]
    desk, _ = _desk(cases)
    reply = desk.client.get("/callbacks")
    assert reply.status_code == 200
    assert cases.calls == [
        ("list_cases", "access", QueueQuery(callback_owed=True, by_deadline=False))
    ]
    page = reply.text
    overdue = page.split('data-case-id="c-2026-000001"')[1].split("</tr>")[0]
    assert "просрочено на 7 мин" in overdue and "(просрочено)" in overdue
    assert "Сообщить гражданину готовый ответ" in overdue
    assert 'class="urgency-breach" data-case-id="c-2026-000001"' in page
    later = page.split('data-case-id="c-2026-000002"')[1].split("</tr>")[0]
    assert "осталось 2" in later and "Первый ответ" in later and "просрочено" not in later
    assert "&lt;b&gt;звонок&lt;/b&gt;" in page and "<b>звонок" not in page
    assert 'href="/cases/c-2026-000002#callback-form"' in page
    assert 'data-live="/callbacks/live"' in page and 'data-more="true"' in page
    assert 'href="/callbacks?page=tok-2"' in page
    assert 'id="nav-callbacks"' in page


def test_an_empty_list_says_nobody_needs_a_call() -> None:
    desk, _ = _desk(FakeCases())
    page = desk.client.get("/callbacks").text
    assert '<p id="queue-empty">Перезванивать никому не нужно.</p>' in page
    assert 'id="queue" data-live="/callbacks/live" hidden' in page


def test_the_list_stream_adds_owed_callbacks_and_drops_recorded_ones() -> None:
    due = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    cases = FakeCases()
    cases.queue_changes = [
        QueueChange("41", _phone_row("7", due), "Created"),
        QueueChange("42", _phone_row("7", None), "CallbackRecorded"),
        QueueChange("43", queue_row("8"), "Created"),  # a chat case never owes one
    ]
    cases.queue_end = Refused(RefusalKind.NOT_FOUND, "нет")
    desk, _ = _desk(cases)
    reply = desk.client.get("/callbacks/live", headers={"Last-Event-ID": "40"})
    assert reply.status_code == 200
    assert [c for c in cases.calls if c[0] == "watch_queue"] == [("watch_queue", "access", "40")]
    events = [b.splitlines() for b in reply.text.split("\n\n") if b.startswith("id:")]
    assert [e[:2] for e in events] == [
        ["id: 41", "event: row"], ["id: 42", "event: row"], ["id: 43", "event: row"],
    ]  # fmt: skip
    added, left, chat = (json.loads(e[2].removeprefix("data: ")) for e in events)
    assert 'data-case-id="c-7"' in added["html"] and "12:30" in added["html"]  # Moscow time
    assert added["announce"]["added"] == "Новая задача: перезвонить по обращению № 7."
    assert left["html"] is None
    assert left["announce"]["removed"] == "Перезванивать по обращению № 7 больше не нужно."
    assert chat["html"] is None
    assert reply.text.endswith("event: end\ndata: \n\n")


def test_tasks_order_by_due_and_time_left_turns_to_overdue() -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    early = _phone_row("1", now + timedelta(minutes=5))
    late = _phone_row("2", now + timedelta(hours=2))
    assert callback_order_key(early) < callback_order_key(late)
    assert CallbackList().matches(early, "x", "L1")
    assert callback_left(now + timedelta(minutes=5), now).urgency is Urgency.WARNING
    assert callback_left(now + timedelta(minutes=25), now).urgency is Urgency.OK
    past = callback_left(now - timedelta(minutes=1), now)
    assert (past.text, past.urgency) == ("просрочено на 1 мин", Urgency.BREACH)


def test_a_phone_case_page_offers_the_callback_form_and_shows_the_callback_owed() -> None:
    cases = FakeCases()
    due = datetime.now(UTC) + timedelta(minutes=20)
    cases.case = case_details(channel="PHONE", callback_due=due, callback_purpose="FIRST_RESPONSE")
    desk, csrf = _desk(cases)
    page = desk.client.get("/cases/c-1").text
    form = page.split('id="callback-form"')[1].split("</form>")[0]
    assert f'name="csrf_token" value="{csrf}"' in form
    assert 'name="reached" value="yes" required' in form and 'name="reached" value="no"' in form
    owed = page.split('id="callback-due"')[1].split("</dd>")[0]
    assert "Первый ответ: перезвонить гражданину до " in owed and "(осталось 1" in owed
    cases.case = case_details()  # a chat case: no call to record
    assert 'id="callback-form"' not in desk.client.get("/cases/c-1").text


def test_recording_a_callback_sends_what_was_chosen_with_the_persons_token() -> None:
    cases = FakeCases()
    desk, csrf = _desk(cases)
    reply = desk.client.post(
        "/cases/c-1/callback",
        data={"csrf_token": csrf, "reached": "no", "text": "  Абонент недоступен  "},
    )
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/cases/c-1?done=")
    assert cases.calls == [("record_callback", "access", "c-1", False, "Абонент недоступен")]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"text": "Сообщил ответ"}, "Отметьте, удалось ли дозвониться"),
        ({"reached": "maybe", "text": "Сообщил ответ"}, "Отметьте, удалось ли дозвониться"),
        ({"reached": "yes", "text": "   "}, "Запишите итог звонка"),
    ],
)
def test_a_callback_without_its_answer_or_note_is_refused_naming_it(
    form: dict[str, str], message: str
) -> None:
    cases = FakeCases()
    desk, csrf = _desk(cases)
    reply = desk.client.post("/cases/c-1/callback", data={"csrf_token": csrf, **form})
    assert reply.status_code == 422
    assert message in reply.text
    assert cases.calls == []


def test_a_callback_needs_the_csrf_token() -> None:
    cases = FakeCases()
    desk, _ = _desk(cases)
    reply = desk.client.post("/cases/c-1/callback", data={"reached": "yes", "text": "Сообщил"})
    assert reply.status_code == 403 and "CSRF" in reply.text
    assert cases.calls == []


def test_a_callback_the_case_service_refuses_shows_its_words() -> None:
    cases = FakeCases()
    cases.refuse["record_callback"] = Refused(
        RefusalKind.CONFLICT, "Это действие сейчас недоступно…", "case 2026-000001 owes no callback"
    )
    desk, csrf = _desk(cases)
    reply = desk.client.post(
        "/cases/c-1/callback", data={"csrf_token": csrf, "reached": "yes", "text": "Сообщил"}
    )
    assert reply.status_code == 409
    assert "Ответ службы обращений: «case 2026-000001 owes no callback»." in reply.text

"""A supervisor's actions on the case page: closing as spam (explanation required) and merging a
duplicate by number (a confirmation showing both first); shown to supervisors only, refused by the
case service for anybody else with its reason in Russian. And what the page then shows: the close
reason, «Объединено с» both ways, the citizen's rating, the calls made, a caller's
identification."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casedesk_desk.application.ports import HistoryItem, PhoneCall, Rating
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.domain.words import SUPERVISOR_ONLY
from casedesk_desk.web.app import COOKIE

from .apps import DeskUnderTest, desk_app
from .fakes import T0, FakeCases, case_details, signed_in

SUPERVISOR = ("specialist", "supervisor")


def _desk(cases: FakeCases, *roles: str) -> tuple[DeskUnderTest, str]:
    under_test = desk_app(cases)
    session = signed_in(under_test.store, "L1", *roles)
    under_test.client.cookies.set(COOKIE, session.session_id)
    return under_test, session.csrf_token


def _supervision_calls(cases: FakeCases) -> list[tuple[object, ...]]:
    return [c for c in cases.calls if c[0] in ("close_case", "merge_cases")]


def test_a_specialist_sees_no_supervisor_action_a_supervisor_sees_them_on_open_cases() -> None:
    cases = FakeCases()
    page = _desk(cases)[0].client.get("/cases/c-1").text
    for form in ("spam-form", "merge-form", "assign-form"):
        assert f'id="{form}"' not in page
    supervisor, csrf = _desk(cases, *SUPERVISOR)
    page = supervisor.client.get("/cases/c-1").text
    for form in ("spam-form", "merge-form", "assign-form"):
        assert f'id="{form}"' in page
    spam = page.split('id="spam-form"')[1].split("</form>")[0]
    assert f'value="{csrf}"' in spam and 'name="text" rows="2" required' in spam
    cases.case = case_details(status="CLOSED")
    closed = supervisor.client.get("/cases/c-1").text
    assert 'id="spam-form"' not in closed and 'id="merge-form"' not in closed


def test_closing_as_spam_needs_an_explanation_then_sends_it() -> None:
    cases = FakeCases()
    desk, csrf = _desk(cases, *SUPERVISOR)
    reply = desk.client.post("/cases/c-1/spam", data={"csrf_token": csrf, "text": "  "})
    assert reply.status_code == 422
    assert "Объясните, почему это спам" in reply.text
    assert _supervision_calls(cases) == []
    reply = desk.client.post("/cases/c-1/spam", data={"csrf_token": csrf, "text": " Реклама "})
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/cases/c-1?done=")
    assert _supervision_calls(cases) == [("close_case", "access", "c-1", "SPAM", "Реклама")]


@pytest.mark.parametrize(
    "detail",
    [
        "l1.ivanova (L1) may not close cases as spam: only supervisors do",
        "some rule the desk has no words for",
    ],
)
def test_a_non_supervisors_spam_closing_shows_the_case_services_refusal(detail: str) -> None:
    cases = FakeCases()
    cases.refuse["close_case"] = Refused(
        RefusalKind.FORBIDDEN, "Недостаточно прав для этого действия. Обратитесь к руководителю.",
        detail,
    )  # fmt: skip
    desk, csrf = _desk(cases)
    reply = desk.client.post("/cases/c-1/spam", data={"csrf_token": csrf, "text": "Реклама"})
    assert reply.status_code == 403
    assert SUPERVISOR_ONLY in reply.text


def test_merging_shows_both_cases_to_confirm_before_anything_is_merged() -> None:
    cases = FakeCases()
    cases.by_number["2026-000042"] = case_details("c-42", number="2026-000042",
                                                  subject="<i>Тот же вопрос</i>")  # fmt: skip
    desk, csrf = _desk(cases, *SUPERVISOR)
    reply = desk.client.post(
        "/cases/c-1/merge",
        data={"csrf_token": csrf, "target_number": " 2026-000042 ", "reason": "Повтор звонка"},
    )
    assert reply.status_code == 200
    assert _supervision_calls(cases) == []
    assert ("find_case", "access", "2026-000042", "объединение дубликатов") in cases.calls
    page = reply.text
    assert "Объединить обращение № 2026-000001 с № 2026-000042?" in page
    assert "&lt;i&gt;Тот же вопрос&lt;/i&gt;" in page
    form = page.split('id="merge-confirm-form"')[1].split("</form>")[0]
    hidden = [
        f'value="{csrf}"',
        'name="confirm" value="yes"',
        'name="target_case_id" value="c-42"',
        'name="reason" value="Повтор звонка"',
    ]
    assert all(field in form for field in hidden), form
    assert 'action="/cases/c-1/merge"' in page


def test_the_confirmation_merges_and_goes_to_the_case_it_went_into() -> None:
    cases = FakeCases()
    desk, csrf = _desk(cases, *SUPERVISOR)
    reply = desk.client.post(
        "/cases/c-1/merge",
        data={"csrf_token": csrf, "confirm": "yes", "target_case_id": "c-42", "reason": "Повтор"},
    )
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/cases/c-42?done=")
    assert _supervision_calls(cases) == [("merge_cases", "access", "c-1", "c-42", "Повтор")]


@pytest.mark.parametrize(
    ("number", "status", "message"),
    [
        ("42", 422, "Укажите номер обращения, например 2026-000123."),
        ("2026-000099", 404, "Обращение № 2026-000099 не найдено."),
        ("2026-000001", 422, "Нельзя объединить обращение с самим собой."),
    ],
)
def test_a_merge_target_that_is_no_other_case_is_refused_clearly(
    number: str, status: int, message: str
) -> None:
    cases = FakeCases()
    cases.by_number["2026-000001"] = cases.case
    desk, csrf = _desk(cases, *SUPERVISOR)
    reply = desk.client.post("/cases/c-1/merge", data={"csrf_token": csrf, "target_number": number})
    assert reply.status_code == status
    assert message in reply.text
    assert _supervision_calls(cases) == []


def test_a_merge_the_case_service_refuses_shows_its_reason() -> None:
    cases = FakeCases()
    cases.refuse["merge_cases"] = Refused(
        RefusalKind.CONFLICT, "Это действие сейчас недоступно для обращения в его текущем статусе.",
        "cases 2026-000001 and 2026-000042 belong to different citizens",
    )  # fmt: skip
    desk, csrf = _desk(cases, *SUPERVISOR)
    reply = desk.client.post(
        "/cases/c-1/merge", data={"csrf_token": csrf, "confirm": "yes", "target_case_id": "c-42"}
    )
    assert reply.status_code == 409
    assert "belong to different citizens" in reply.text


def test_merge_and_spam_need_the_csrf_token() -> None:
    cases = FakeCases()
    desk, _ = _desk(cases, *SUPERVISOR)
    for action, form in [
        ("spam", {"text": "Реклама"}),
        ("merge", {"confirm": "yes", "target_case_id": "c-42"}),
        ("merge", {"target_number": "2026-000042"}),
    ]:
        assert desk.client.post(f"/cases/c-1/{action}", data=form).status_code == 403
    assert cases.calls == []


def test_the_page_shows_the_end_of_a_merged_rated_case_and_its_calls() -> None:
    cases = FakeCases()
    cases.case = case_details(
        status="CLOSED", channel="PHONE", close_reason="DUPLICATE", merged_into="c-42",
        merged_duplicates=["c-77"],
        rating=Rating(4, "<b>Спасибо</b>, но долго", T0, "EMAIL"),
        phone=PhoneCall(True, ["PROFILE_NAME_BIRTH_DATE_SNILS", "SMS_ONE_TIME_CODE"]),
    )  # fmt: skip
    cases.history_items = [
        HistoryItem(T0, "l1.ivanova", "Звонок гражданину: не дозвонились", body="Занято",
                    public=False, version=2, kind="callback_recorded"),
        HistoryItem(T0 + timedelta(minutes=5), "super.orlova", "Объединено с обращением",
                    version=3, kind="merged_into", related_case="c-42",
                    related_number="2026-000042"),
        HistoryItem(T0 + timedelta(minutes=6), "super.orlova", "Присоединён дубликат: обращение",
                    version=4, kind="duplicate_merged", related_case="c-77",
                    related_number="2026-000077"),
    ]  # fmt: skip
    page = _desk(cases)[0].client.get("/cases/c-1").text
    assert '<dd id="close-reason">Объединено с другим обращением (дубликат)</dd>' in page
    merged = page.split('id="merged-into"')[1].split("</dd>")[0]
    assert '<a href="/cases/c-42">№ 2026-000042</a>' in merged
    assert '<a href="/cases/c-77">№ 2026-000077</a>' in page.split('id="merged-duplicates"')[1]
    rating = page.split('id="rating"')[1].split("</dd>")[0]
    assert "4 из 5" in rating and "Электронная почта" in rating
    assert "&lt;b&gt;Спасибо&lt;/b&gt;" in rating
    checks = page.split('id="caller-checks"')[1].split("</dd>")[0]
    assert "ФИО, дата рождения и СНИЛС из профиля; одноразовый код по SMS" in checks
    calls = page.split('id="callbacks"')[1].split("</ul>")[0]
    assert "не дозвонились: Занято" in calls
    history = page.split('id="history"')[1]
    assert 'Объединено с обращением <a href="/cases/c-42">№ 2026-000042</a>' in history
    assert 'id="callback-form"' not in page  # closed: nothing more to record

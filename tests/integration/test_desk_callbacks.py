"""The desk's end of issue 19 in a real browser (Debian's Chromium driven by Playwright), against
the real Keycloak and a real case service (PostgreSQL, mutual TLS) behind a real desk process.

«Перезвонить»: a PHONE case registered at the desk (a call from abroad, the caller identified by
the three checks) appears in the open callback list without a reload; its page says how the
caller was identified and what the callback is for; a call that did not reach the citizen leaves
the task, one that did removes it from the open list (live). A supervisor closes a case as spam
with an explanation and merges a duplicate into another case of the same citizen after a
confirmation; the two case pages then link to each other, and a specialist's forged merge is
refused with the case service's reason in Russian. axe-core finds no serious or critical
violation on the callback list and on the case pages with the new forms.

The case service and the desk start once per module (support/desk_stand.py).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support.desk import chromium, sign_in, submit, wait_until
from support.desk_stand import (
    DeskStand,
    axe_context,
    axe_violations,
    chat_case,
    desk_stand,
    open_page,
)
from support.people import as_person

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.common.v1 import types_pb2

CALLERS = ["case", "intake", "escalation", "desk"]
SUPERVISOR_ONLY = (
    "Недостаточно прав: закрывать обращения как спам и объединять дубликаты может только "
    "руководитель."
)
EVERY_CHECK = [
    types_pb2.PROFILE_MOBILE_NUMBER,
    types_pb2.PROFILE_NAME_BIRTH_DATE_SNILS,
    types_pb2.SMS_ONE_TIME_CODE,
]


@pytest.fixture(scope="module")
def stand(request: pytest.FixtureRequest) -> Iterator[DeskStand]:
    with desk_stand(request, schema=f"callbacks_{uuid.uuid4().hex[:12]}", callers=CALLERS) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    with axe_context(browser) as opened:
        yield opened


def _citizen(login: str) -> types_pb2.Citizen:
    return types_pb2.Citizen(full_name="Петров Пётр Петрович", account_login=login,
                             mobile_phone="+79161234567")  # fmt: skip


def register_call(cases: Any, keycloak: Any, subject: str, login: str) -> pb.CaseView:
    """A call from abroad registered at the desk by l1.ivanova, the caller identified by all three
    checks (as intake requires of a call from abroad)."""
    return cases("desk").CreateCase(  # type: ignore[no-any-return]
        pb.CreateCaseRequest(
            context=pb.CommandContext(idempotency_key=str(uuid.uuid4())),
            channel=types_pb2.PHONE, type=types_pb2.CONSULTATION,
            category=types_pb2.SERVICE_DELIVERY, citizen=_citizen(login),
            content=types_pb2.CaseContent(subject=subject, description="Звонок из Германии"),
            provenance=types_pb2.Provenance(phone=types_pb2.PhoneOrigin(
                call_id=f"call-{uuid.uuid4().hex[:8]}", caller_number="+4915112345678",
                from_abroad=True, caller_checks=EVERY_CHECK,
            )),
        ),
        metadata=as_person(keycloak, "l1.ivanova"),
    )  # fmt: skip


def register_chat(cases: Any, subject: str, login: str) -> pb.CaseView:
    """A citizen's chat case as intake registers it."""
    return cases("intake").CreateCase(  # type: ignore[no-any-return]
        chat_case(_citizen(login), subject, "Не приходит код")
    )


def test_a_phone_case_is_a_callback_task_until_a_call_reaches_the_citizen(
    context: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    tasks = open_page(context)
    sign_in(tasks, desk, keycloak, "l1.ivanova", "/callbacks")
    assert tasks.locator("#nav-callbacks").inner_text() == "Перезвонить"
    tasks.evaluate("window.notReloaded = true")
    tasks.wait_for_selector("#queue[data-live-state='open']", state="attached")
    # The stream starts "from now" a moment after the browser sees it open (see
    # test_desk_browser.py): let it get there.
    time.sleep(1.0)
    # Everything the live region says, in order (a new case's assignment follows its creation).
    tasks.evaluate(
        """() => { window.said = [];
            new MutationObserver(() => window.said.push(
                document.getElementById('queue-news').textContent))
            .observe(document.getElementById('queue-news'), {childList: true}); }"""
    )

    case = register_call(cases, keycloak, f"Не пришёл код {uuid.uuid4().hex[:6]}", "petrov.pp")
    row = tasks.locator(f"tr[data-case-id='{case.case_id}']")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == case.number
    # CaseSummary names the purpose once the contract has callback_purpose (asked of the lead);
    # until then the list shows «—» and the case page the purpose.
    has_purpose = "callback_purpose" in pb.CaseSummary.DESCRIPTOR.fields_by_name
    assert cells[2] == ("Первый ответ: перезвонить гражданину" if has_purpose else "—")
    assert re.fullmatch(r"осталось (29|30) мин", cells[4]), cells
    assert row.get_attribute("class") == "urgency-ok"
    added = f"Новая задача: перезвонить по обращению № {case.number}."
    wait_until(tasks, "text => window.said.includes(text)", added)
    assert axe_violations(tasks) == []

    # The case in another tab of the same session; the list stays open in the first.
    work = open_page(context)
    work.goto(f"{desk.url}/cases/{case.case_id}")
    assert work.locator("#caller-checks").inner_text() == (
        "личность подтверждена: российский мобильный номер из личного кабинета; ФИО, дата "
        "рождения и СНИЛС из профиля; одноразовый код по SMS на этот номер"
    )
    assert "+4915112345678" not in work.content()
    assert (
        work.locator("#callback-due")
        .inner_text()
        .startswith("Первый ответ: перезвонить гражданину до ")
    )
    assert axe_violations(work) == []

    # Not reached: the task stays.
    work.check("#callback-missed")
    work.fill("#callback-note", "Абонент недоступен")
    assert submit(work, "callback", case.case_id).status == 303
    assert work.locator("#done").inner_text() == "Звонок записан: дозвониться не удалось."
    assert work.locator("#callback-due").count() == 1
    assert "Звонок гражданину: не дозвонились" in work.locator("#history").inner_text()

    # Reached: the task is done, and leaves the open list without a reload.
    work.check("#callback-reached")
    work.fill("#callback-note", "Сообщил, что код придёт в течение часа")
    assert submit(work, "callback", case.case_id).status == 303
    assert work.locator("#done").inner_text() == "Звонок записан: гражданину дозвонились."
    assert work.locator("#callback-due").count() == 0
    calls = work.locator("#callbacks li").all_inner_texts()
    assert len(calls) == 2 and "дозвонились: Сообщил, что код придёт" in calls[1], calls
    row.wait_for(state="detached")
    removed = f"Перезванивать по обращению № {case.number} больше не нужно."
    wait_until(tasks, "text => window.said.includes(text)", removed)
    assert tasks.evaluate("window.notReloaded") is True
    tasks.reload()
    assert tasks.locator(f"tr[data-case-id='{case.case_id}']").count() == 0


def test_a_supervisor_closes_spam_and_merges_a_duplicate_that_a_specialist_cannot(
    browser: Any, context: Any, stand: DeskStand, keycloak: Any
) -> None:
    desk, cases = stand.desk, stand.cases
    login = f"sidorov.{uuid.uuid4().hex[:6]}"
    target = register_chat(cases, f"Не приходит СМС-код {uuid.uuid4().hex[:6]}", login)
    duplicate = register_chat(cases, "Снова не приходит СМС-код", login)
    spam = register_chat(cases, "Купите рекламу", f"spam.{uuid.uuid4().hex[:6]}")

    # A specialist sees no supervisor's form, and a forged merge is refused by the case service.
    specialist = browser.new_context(locale="ru-RU")
    try:
        page = open_page(specialist)
        sign_in(page, desk, keycloak, "l1.ivanova", f"/cases/{duplicate.case_id}")
        for form in ("#spam-form", "#merge-form"):
            assert page.locator(form).count() == 0
        csrf = page.locator("input[name=csrf_token]").first.input_value()
        forged = page.request.post(
            f"{desk.url}/cases/{duplicate.case_id}/merge",
            form={"csrf_token": csrf, "confirm": "yes", "target_case_id": target.case_id},
        )
        assert forged.status == 403
        assert SUPERVISOR_ONLY in forged.text()
    finally:
        specialist.close()

    page = open_page(context)
    sign_in(page, desk, keycloak, "super.orlova", f"/cases/{spam.case_id}")
    assert axe_violations(page) == []
    page.fill("#spam-text", "Реклама, вопроса к поддержке нет")
    assert submit(page, "spam", spam.case_id).status == 303
    assert page.locator("#status").inner_text() == "Закрыта"
    assert page.locator("#close-reason").inner_text() == "Закрыто без рассмотрения (спам)"
    assert page.locator("#spam-form").count() == 0

    page.goto(f"{desk.url}/cases/{duplicate.case_id}")
    page.fill("#merge-number", target.number)
    page.click("#merge-form button")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == (
        f"Объединить обращение № {duplicate.number} с № {target.number}?"
    )
    assert axe_violations(page) == []
    with page.expect_response(lambda r: r.request.method == "POST") as merged:
        page.click("#merge-confirm-form button")
    assert merged.value.status == 303
    page.wait_for_url(re.compile(re.escape(f"{desk.url}/cases/{target.case_id}") + r"\?done=.*"))
    assert page.locator("#done").inner_text() == "Дубликат объединён с этим обращением и закрыт."
    assert page.locator("#merged-duplicates a").inner_text() == f"№ {duplicate.number}"

    page.click("#merged-duplicates a")
    page.wait_for_url(f"{desk.url}/cases/{duplicate.case_id}")
    assert page.locator("#status").inner_text() == "Закрыта"
    assert page.locator("#close-reason").inner_text() == (
        "Объединено с другим обращением (дубликат)"
    )
    assert page.locator("#merged-into a").inner_text() == f"№ {target.number}"
    assert f"Объединено с обращением № {target.number}" in page.locator("#history").inner_text()

"""«Обращения гражданина»: the kind told from the value, the form on the queue page, the POST that
calls ListCases with a CitizenLookup for the signed-in specialist (his token, the journal's
purpose), the case service's refusals in Russian beside the field, and the value kept out of URLs,
reprs and log lines."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

import grpc
import pytest

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_desk.adapters.case_service import CaseService
from casedesk_desk.application.citizen_search import PURPOSE_CITIZEN_SEARCH
from casedesk_desk.application.ports import QueuePage, QueueQuery
from casedesk_desk.domain.citizen_search import (
    CitizenIdKind,
    CitizenLookup,
    detect_kind,
    lookup,
    lookup_refusal,
    snils_checks,
)
from casedesk_desk.domain.errors import RefusalKind, Refused
from casedesk_desk.web.app import COOKIE

from .apps import DeskUnderTest, desk_app
from .fakes import FakeCases, queue_row, signed_in

SNILS = "112-233-445 95"  # passes the SNILS check digits


def _desk(cases: FakeCases) -> tuple[DeskUnderTest, str]:
    under_test = desk_app(cases)
    session = signed_in(under_test.store, "L1")
    under_test.client.cookies.set(COOKIE, session.session_id)
    return under_test, session.csrf_token


def _snils_from(nine: str) -> str:
    """Nine digits with their SNILS check digits."""
    total = sum(int(d) * (9 - i) for i, d in enumerate(nine))
    check = total % 101 if total > 101 else total
    return nine + f"{0 if check in (100, 101) else check:02d}"


# -- the kind of identifier -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (SNILS, CitizenIdKind.SNILS),
        ("112 233 445 95", CitizenIdKind.SNILS),
        ("11223344595", CitizenIdKind.SNILS),  # eleven digits no Russian phone begins with
        ("+7 (912) 345-67-89", CitizenIdKind.PHONE),
        ("8 (912) 345-67-89", CitizenIdKind.PHONE),
        ("8-912-345-67-89", CitizenIdKind.PHONE),  # eleven digits from 8, failing the SNILS check
        ("912 345 67 89", CitizenIdKind.PHONE),
        ("0049 151 1234 5678", CitizenIdKind.PHONE),
        ("Ivan@Mail.RU", CitizenIdKind.EMAIL),
        ("иван@почта.рф", CitizenIdKind.EMAIL),
        ("ivanov.ii", None),
        ("12345", None),
        ("", None),
    ],
)
def test_the_kind_is_told_from_the_value_where_it_can_be(
    value: str, kind: CitizenIdKind | None
) -> None:
    assert detect_kind(value) is kind


def test_eleven_digits_from_7_or_8_that_pass_the_snils_check_could_be_either() -> None:
    both = _snils_from("791234567")
    assert both.startswith("7") and snils_checks(both)
    assert detect_kind(both) is None
    assert detect_kind(f"{both[:3]}-{both[3:6]}-{both[6:9]} {both[9:]}") is CitizenIdKind.SNILS
    assert detect_kind(f"+{both}") is CitizenIdKind.PHONE


def test_the_snils_check_digits() -> None:
    assert snils_checks("11223344595")
    assert not snils_checks("11223344594")
    assert snils_checks("00100199800")  # below 001-001-998 there are no check digits
    assert snils_checks(_snils_from("987654321"))


def test_a_lookup_is_the_chosen_kind_or_the_told_one_and_hides_its_value() -> None:
    assert lookup("AUTO", f"  {SNILS} ") == CitizenLookup(CitizenIdKind.SNILS, SNILS)
    assert lookup("", "Ivan@Mail.RU").kind is CitizenIdKind.EMAIL
    # A chosen kind is sent as chosen: the case service's rules decide what is a phone.
    assert lookup("PHONE", "12345") == CitizenLookup(CitizenIdKind.PHONE, "12345")
    assert SNILS not in repr(lookup("SNILS", SNILS))
    assert SNILS not in repr(QueueQuery(citizen=lookup("SNILS", SNILS)))


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("AUTO", "   ", "Введите СНИЛС, телефон или адрес электронной почты."),
        ("SNILS", "1" * 255, "Слишком длинное значение: до 254 знаков."),
        ("INN", SNILS, "Неизвестный вид данных для поиска."),
        ("AUTO", "ivanov.ii", "Не удалось понять по значению, что это: выберите вид"),
    ],
)
def test_a_lookup_that_cannot_be_made_says_why_in_russian(
    kind: str, value: str, words: str
) -> None:
    with pytest.raises(Refused) as refused:
        lookup(kind, value)
    assert refused.value.kind is RefusalKind.INVALID
    assert refused.value.message.startswith(words)


@pytest.mark.parametrize(
    ("detail", "words"),
    [
        ("citizen.value: snils: 11 digits", "СНИЛС: нужно 11 цифр, например 112-233-445 95."),
        ("citizen.value: snils: digits and separators only", "СНИЛС: только цифры и разделители"),
        ("citizen.value: phone: not an international (+...) or Russian number", "Телефон: нужен"),
        ("citizen.value: phone: E.164 needs 8 to 15 digits after '+'", "Телефон: после «+»"),
        ("citizen.value: phone: a country code never starts with 0", "Телефон: код страны"),
        ("citizen.value: email: not of the form local@domain", "Электронная почта: нужен адрес"),
        ("citizen.value: email: the domain has no dot", "Электронная почта: в домене нет точки."),
        ("citizen.value: is required", "Введите СНИЛС, телефон или адрес электронной почты."),
        ("citizen.value: snils: a new rule",
         "СНИЛС: значение не принято. Ответ службы обращений: «snils: a new rule»."),
        ("page_token: not one of this order",
         "Служба обращений не приняла запрос. Ответ службы обращений: «page_token: not one of "
         "this order»."),
    ],
)  # fmt: skip
def test_the_case_services_rule_reads_in_russian(detail: str, words: str) -> None:
    refusal = Refused(RefusalKind.INVALID, "Служба обращений не приняла данные формы.", detail)
    worded = lookup_refusal(refusal, CitizenIdKind.SNILS)
    assert worded.kind is RefusalKind.INVALID and worded.message.startswith(words)
    assert worded.detail == detail


def test_a_case_service_without_the_index_key_says_the_search_is_not_set_up() -> None:
    refusal = Refused(RefusalKind.CONFLICT, "…", "finding cases … needs the index key")
    assert "не настроен" in lookup_refusal(refusal, CitizenIdKind.PHONE).message
    other = Refused(RefusalKind.FORBIDDEN, "Недостаточно прав", "no")
    assert lookup_refusal(other, CitizenIdKind.PHONE) is other


# -- the request to the case service ----------------------------------------------------------


class _Stub:
    def __init__(self, error: grpc.aio.AioRpcError | None = None) -> None:
        self.requests: list[tuple[Any, dict[str, Any]]] = []
        self.error = error

    async def ListCases(self, request: Any, **kwargs: Any) -> pb.CaseList:
        self.requests.append((request, kwargs))
        if self.error is not None:
            raise self.error
        return pb.CaseList()


def _service(stub: _Stub) -> CaseService:
    service = CaseService.__new__(CaseService)
    service._stub, service._timeout_s = stub, 10.0  # type: ignore[assignment]
    return service


async def test_the_lookup_travels_as_list_cases_citizen_with_the_persons_token_and_purpose() -> (
    None
):
    stub = _Stub()
    cases = FakeCases()
    desk, _ = _desk(cases)
    service = _service(stub)
    desk.desk.work.citizens._cases = service  # the real adapter under the use case
    await desk.desk.work.citizens.find("token", "AUTO", SNILS, "p-2")
    request, kwargs = stub.requests[0]
    assert request == pb.ListCasesRequest(
        citizen=pb.CitizenLookup(kind=pb.CITIZEN_ID_SNILS, value=SNILS),
        order=pb.CASE_ORDER_UNSPECIFIED, page_size=50, page_token="p-2",
    )  # fmt: skip
    metadata = dict(kwargs["metadata"])
    assert metadata["x-person-token"] == "token"
    assert unquote(metadata["x-access-purpose"]) == PURPOSE_CITIZEN_SEARCH


async def test_a_malformed_value_refused_by_the_case_service_names_the_rule_not_the_value() -> None:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="citizen.value: snils: 11 digits",
    )
    cases = FakeCases()
    desk, _ = _desk(cases)
    desk.desk.work.citizens._cases = _service(_Stub(error))
    with pytest.raises(Refused) as refused:
        await desk.desk.work.citizens.find("token", "SNILS", "112-233-445")
    assert refused.value.kind is RefusalKind.INVALID
    assert refused.value.message == "СНИЛС: нужно 11 цифр, например 112-233-445 95."


# -- the pages ----------------------------------------------------------------------------------


def test_the_queue_page_offers_the_search_as_a_post_form() -> None:
    desk, csrf = _desk(FakeCases())
    page = desk.client.get("/queue?view=tier").text
    form = page[page.index('<form method="post" action="/queue/citizen"') :]
    form = form[: form.index("</form>")]
    assert f'name="csrf_token" value="{csrf}"' in form
    assert '<option value="AUTO" selected>Определить по значению</option>' in form
    for kind in ("SNILS", "PHONE", "EMAIL"):
        assert f'<option value="{kind}">' in form
    assert 'name="value" id="citizen-value" value=""' in form and 'autocomplete="off"' in form


def test_a_search_lists_the_citizens_cases_and_pages_by_post(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = FakeCases()
    cases.pages = [QueuePage([queue_row("2026-000042", status="CLOSED")], "next-1")]
    desk, csrf = _desk(cases)
    reply = desk.client.post(
        "/queue/citizen", data={"csrf_token": csrf, "kind": "AUTO", "value": SNILS}
    )
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    assert cases.calls == [
        (
            "list_cases",
            "access",
            QueueQuery(
                citizen=CitizenLookup(CitizenIdKind.SNILS, SNILS),
                by_deadline=False,
                purpose=PURPOSE_CITIZEN_SEARCH,
            ),
        )
    ]
    page = reply.text
    table = page[page.index('id="citizen-cases"') :]
    assert 'href="/cases/c-2026-000042">2026-000042</a>' in table and "Закрыта" in table
    assert "Найдено по виду «СНИЛС»: 1 на этой странице." in page
    assert 'id="queue"' not in page  # no live queue stream on the results
    nxt = page[page.index('id="citizen-next"') :]
    nxt = nxt[: nxt.index("</form>")]
    for hidden in (f'value="{csrf}"', 'name="kind" value="SNILS"', f'value="{SNILS}"',
                   'name="page" value="next-1"'):  # fmt: skip
        assert hidden in nxt

    reply = desk.client.post(
        "/queue/citizen",
        data={"csrf_token": csrf, "kind": "SNILS", "value": SNILS, "page": "next-1"},
    )
    assert reply.status_code == 200
    assert cases.calls[1][2].page_token == "next-1"
    assert "Обращений гражданина с таким значением (СНИЛС) не найдено." in reply.text
    assert 'id="citizen-next"' not in reply.text
    assert SNILS not in caplog.text
    assert all(SNILS not in str(r.args) for r in caplog.records)


def test_a_malformed_value_is_shown_beside_the_field_in_russian_and_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = FakeCases()
    cases.refuse["list_cases"] = Refused(
        RefusalKind.INVALID,
        "Служба обращений не приняла данные формы.",
        "citizen.value: phone: not an international (+...) or Russian number",
    )
    desk, csrf = _desk(cases)
    reply = desk.client.post(
        "/queue/citizen", data={"csrf_token": csrf, "kind": "PHONE", "value": "12-34"}
    )
    assert reply.status_code == 422
    page = reply.text
    assert (
        '<p class="notice" id="citizen-error" role="alert">Телефон: нужен номер в международном '
        "виде (+…) или российский, например 8 (912) 345-67-89.</p>"
    ) in page
    assert (
        'value="12-34"' in page and 'aria-invalid="true" aria-describedby="citizen-error"' in page
    )
    assert '<option value="PHONE" selected>' in page
    assert page.count("12-34") == 1  # in the field to correct, nowhere else
    assert "12-34" not in caplog.text


def test_a_value_the_desk_cannot_tell_is_asked_for_its_kind_without_a_call() -> None:
    cases = FakeCases()
    desk, csrf = _desk(cases)
    reply = desk.client.post(
        "/queue/citizen", data={"csrf_token": csrf, "kind": "AUTO", "value": "ivanov.ii"}
    )
    assert reply.status_code == 422
    assert "выберите вид — СНИЛС, телефон или электронная почта" in reply.text
    assert cases.calls == []


def test_the_search_needs_the_csrf_token_and_the_session() -> None:
    cases = FakeCases()
    desk, _ = _desk(cases)
    reply = desk.client.post("/queue/citizen", data={"kind": "SNILS", "value": SNILS})
    assert reply.status_code == 403 and cases.calls == []
    desk.client.cookies.clear()
    reply = desk.client.post("/queue/citizen", data={"kind": "SNILS", "value": SNILS})
    assert reply.status_code == 303
    assert reply.headers["location"] == "/auth/login?next=%2Fqueue%2Fcitizen"


def test_a_get_shows_the_empty_form_and_reads_no_value_from_the_url() -> None:
    cases = FakeCases()
    desk, _ = _desk(cases)
    reply = desk.client.get(f"/queue/citizen?value={SNILS}&kind=SNILS")
    assert reply.status_code == 200
    assert SNILS not in reply.text and 'id="citizen-value" value=""' in reply.text
    assert cases.calls == []


@pytest.mark.parametrize(
    ("refusal", "status", "words"),
    [
        (Refused(RefusalKind.CONFLICT, "…", "needs the index key"), 409, "не настроен"),
        (
            Refused(
                RefusalKind.UNAVAILABLE,
                "Служба обращений недоступна, повторите через минуту.",
                "UNAVAILABLE",
            ),
            503,
            "Служба обращений недоступна",
        ),
    ],
)
def test_other_refusals_are_the_desks_usual_pages(
    refusal: Refused, status: int, words: str
) -> None:
    cases = FakeCases()
    cases.refuse["list_cases"] = refusal
    desk, csrf = _desk(cases)
    reply = desk.client.post(
        "/queue/citizen", data={"csrf_token": csrf, "kind": "EMAIL", "value": "i@mail.ru"}
    )
    assert reply.status_code == status and words in reply.text
    assert "i@mail.ru" not in reply.text

"""Whom a call acts for: what each proof lets a caller submit and see (domain/acting.py), the
contact a code goes to, and how the words of a code read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from casedesk_intake.domain.access_codes import Contact, contact_for_code, is_code, new_code
from casedesk_intake.domain.acting import (
    Caller,
    CodeHolder,
    Operator,
    PortalCitizen,
    Proof,
    submission_for,
)
from casedesk_intake.domain.cases import Case
from casedesk_intake.domain.citizens import Citizen
from casedesk_intake.domain.errors import NotYourCase, Unauthenticated
from casedesk_intake.domain.frontends import Frontend
from casedesk_intake.domain.submissions import CaseContent, MfcOrigin, Submission
from casedesk_intake.domain.wording import access_code_text, minutes_phrase
from casedesk_vocabulary.enums import Channel

CHAT = Frontend("portal-chat", frozenset({"PORTAL_CHAT"}))
MAIL = Frontend("mail-gateway", frozenset({"EMAIL"}))
PHONE = Frontend("contact-centre", frozenset({"PHONE"}))


def _case(channel: Channel, login: str = "", email: str = "", phone: str = "") -> Case:
    citizen = Citizen(account_login=login, email=email, mobile_phone=phone)
    return Case("id-1", "2026-0000001", None, channel, citizen, "Тема")


def _submission(channel: Channel, login: str = "") -> Submission:
    return Submission("k", channel, Citizen(account_login=login), CaseContent("a", "b"))


@pytest.mark.parametrize(
    ("caller", "case", "visible"),
    [
        (Caller(CHAT, PortalCitizen("ivanov.ii")), _case(Channel.PHONE, "ivanov.ii"), True),
        (Caller(CHAT, PortalCitizen("ivanov.ii")), _case(Channel.PORTAL_CHAT, "petrova"), False),
        (Caller(CHAT, PortalCitizen("ivanov.ii")), _case(Channel.EMAIL, ""), False),
        (Caller(MAIL, CodeHolder("123456")), _case(Channel.EMAIL), True),
        (Caller(MAIL, CodeHolder("123456")), _case(Channel.PHONE), False),
        (Caller(PHONE, Operator("l1.ivanova")), _case(Channel.PHONE, "ivanov.ii"), True),
        (Caller(PHONE, Operator("l1.ivanova")), _case(Channel.PORTAL_CHAT, "ivanov.ii"), False),
        (Caller(MAIL), _case(Channel.EMAIL), False),
    ],
)
def test_who_may_see_which_case(caller: Caller, case: Case, visible: bool) -> None:
    assert caller.may_see(case) is visible


def test_the_portal_token_names_the_account_and_nothing_else_does() -> None:
    citizen = Caller(CHAT, PortalCitizen("ivanov.ii"))
    made = submission_for(citizen, _submission(Channel.PORTAL_CHAT))
    assert made.citizen.account_login == "ivanov.ii"
    with pytest.raises(NotYourCase, match=r"^citizen\.account_login differs"):
        submission_for(citizen, _submission(Channel.PORTAL_CHAT, "petrova.an"))
    with pytest.raises(Unauthenticated, match="x-citizen-token"):
        submission_for(Caller(CHAT), _submission(Channel.PORTAL_CHAT))
    with pytest.raises(NotYourCase, match=r"^citizen\.account_login may be named only"):
        submission_for(Caller(MAIL), _submission(Channel.EMAIL, "ivanov.ii"))
    vouched = submission_for(Caller(PHONE, Operator("op")), _submission(Channel.PHONE, "iv"))
    assert vouched.citizen.account_login == "iv"


def test_an_operator_is_recorded_on_an_mfc_case() -> None:
    mfc = replace(_submission(Channel.MFC), provenance=MfcOrigin("MFC-77", ""))
    made = submission_for(Caller(PHONE, Operator("l2.petrov")), mfc)
    assert made.provenance == MfcOrigin("MFC-77", "l2.petrov")
    with pytest.raises(NotYourCase, match="operators act for citizens on PHONE and MFC"):
        submission_for(Caller(PHONE, Operator("l2.petrov")), _submission(Channel.SOCIAL))


def test_whom_a_digest_binds_a_call_to() -> None:
    assert Caller(CHAT, PortalCitizen("a")).identity() == "login:a"
    assert Caller(PHONE, Operator("op")).identity() == "operator:op"
    assert (
        Caller(MAIL, CodeHolder("111111")).identity()
        == Caller(MAIL, CodeHolder("222222")).identity()
    ), "a retry with a new code is still a retry"


def test_secrets_stay_out_of_reprs() -> None:
    shown = repr((Proof("eyJtoken", "eyJperson", "654321"), CodeHolder("654321")))
    shown += repr(Contact("email", "ivanov@example.ru"))
    assert "eyJ" not in shown and "654321" not in shown and "ivanov@" not in shown


def test_a_code_goes_to_the_contact_the_case_was_opened_with() -> None:
    both = {"email": "iv@example.ru", "phone": "+79123456789"}
    anything = lambda kind: True  # noqa: E731
    assert contact_for_code(_case(Channel.EMAIL, **both), anything) == Contact(
        "email", "iv@example.ru"
    )
    assert contact_for_code(_case(Channel.PHONE, **both), anything).kind == "sms"
    only_mail = lambda kind: kind == "email"  # noqa: E731
    assert contact_for_code(_case(Channel.PHONE, **both), only_mail).kind == "email"
    assert contact_for_code(_case(Channel.SOCIAL), anything) is None


def test_codes_are_six_digits() -> None:
    assert new_code(lambda n: 42) == "000042" and is_code("000042")
    assert not is_code("42") and not is_code("0000420") and not is_code("12345a")


@pytest.mark.parametrize(
    ("minutes", "phrase"),
    [(1, "1 минуту"), (3, "3 минуты"), (10, "10 минут"), (11, "11 минут"), (21, "21 минуту")],
)
def test_minutes_read_in_russian(minutes: int, phrase: str) -> None:
    assert minutes_phrase(minutes) == phrase


def test_a_code_fits_two_sms_parts() -> None:
    assert len(access_code_text("2026-0001234567", "123456", 10)) <= 134

"""Which mail is left alone: a program's, a list's, or mail the gateway found forged."""

from __future__ import annotations

import pytest

from casedesk_intake.domain.authentication_results import parse_authentication_results
from casedesk_intake.domain.mail_rules import IgnoredReason, MailIgnored, why_ignored

GATEWAY = "mx.gov.example"
SUBJECT = "Re: Обращение в службу поддержки - 2026-0001234"


def verdict(*marks: tuple[str, str], subject: str = SUBJECT) -> MailIgnored | None:
    return why_ignored(marks, subject, trusted_authserv_ids=[GATEWAY])


@pytest.mark.parametrize(
    ("mark", "detail"),
    [
        (("auto-submitted", "auto-replied"), "Auto-Submitted: auto-replied"),
        (("auto-submitted", "Auto-Generated (notice)"), "Auto-Submitted: auto-generated"),
        (
            ("auto-submitted", "auto-notified; owner-email=x@example.ru"),
            "Auto-Submitted: auto-notified",
        ),
        (("auto-submitted", "«робот»"), "Auto-Submitted: (other)"),
        (("x-autoreply", "yes"), "X-Autoreply present"),
        (("x-autorespond", "Out of office"), "X-Autorespond present"),
        (("precedence", "auto_reply"), "Precedence: auto_reply"),
        (("return-path", "< >"), "Return-Path: <> (a delivery report)"),
        (
            ("content-type", 'multipart/report; report-type="delivery-status"'),
            "Content-Type: multipart/report",
        ),
        (
            ("content-type", "message/disposition-notification"),
            "Content-Type: message/disposition-notification",
        ),
    ],
)
def test_a_programs_mail_is_automatic(mark: tuple[str, str], detail: str) -> None:
    assert verdict(mark) == MailIgnored(IgnoredReason.AUTOMATIC, detail)


@pytest.mark.parametrize(
    "subject",
    [
        "Автоматический ответ: " + SUBJECT,
        "Out of Office: " + SUBJECT,
        "AUTOREPLY: отпуск",
        "Автоответ : в отпуске",
    ],
)
def test_an_out_of_office_subject_is_automatic(subject: str) -> None:
    assert verdict(subject=subject) == MailIgnored(
        IgnoredReason.AUTOMATIC, "an out-of-office subject"
    )


@pytest.mark.parametrize(
    ("mark", "detail"),
    [
        (("precedence", "bulk"), "Precedence: bulk"),
        (("precedence", "List"), "Precedence: list"),
        (("precedence", "junk"), "Precedence: junk"),
        (("list-id", "Новости <news.example.ru>"), "List-Id present"),
        (("list-unsubscribe", "<https://example.ru/leave?u=1>"), "List-Unsubscribe present"),
    ],
)
def test_a_lists_mail_is_bulk(mark: tuple[str, str], detail: str) -> None:
    assert verdict(mark) == MailIgnored(IgnoredReason.BULK, detail)


@pytest.mark.parametrize(
    ("marks", "subject"),
    [
        ((), SUBJECT),
        ((("auto-submitted", "no"),), SUBJECT),
        ((("auto-submitted", "No (a person wrote this)"),), SUBJECT),
        ((("x-autoreply", "no"),), SUBJECT),
        ((("precedence", "first-class"),), SUBJECT),
        ((("return-path", "<ivan@example.ru>"),), SUBJECT),
        ((("content-type", "multipart/mixed; boundary=b"),), SUBJECT),
        ((), "Автоответ не пришёл, а код нужен"),
        ((), "Re: Автоматический ответ от вас: непонятно"),
    ],
)
def test_a_persons_mail_is_not_ignored(marks, subject: str) -> None:
    assert verdict(*marks, subject=subject) is None


def results(value: str) -> tuple[str, str]:
    return ("authentication-results", value)


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            f"{GATEWAY}; spf=pass smtp.mailfrom=example.ru; dmarc=fail (p=reject)",
            "dmarc=fail",
        ),
        ("MX.Gov.Example 1; spf=fail (not permitted) smtp.mailfrom=example.ru", "spf=fail"),
        (f'{GATEWAY}; dkim=fail reason="bad; signature" header.d=example.ru', "dkim=fail"),
        (f"(scanned) {GATEWAY}; dkim/1 = fail header.d=example.ru", "dkim=fail"),
    ],
)
def test_the_gateways_failure_means_forged(value: str, detail: str) -> None:
    ignored = verdict(results(value))
    assert ignored == MailIgnored(IgnoredReason.FAILED_AUTHENTICATION, f"{detail} by {GATEWAY}")


def test_a_dmarc_failure_counts_whatever_else_the_field_claims() -> None:
    forged_pass = results(f"{GATEWAY}; dmarc=pass")
    assert verdict(forged_pass, results(f"{GATEWAY}; dmarc=fail")) is not None


@pytest.mark.parametrize(
    "values",
    [
        ["mx.attacker.example; dmarc=fail"],
        [f"{GATEWAY}.attacker.example; dmarc=fail"],
        [f"{GATEWAY}; spf=fail; dkim=pass; dmarc=pass"],
        [f"{GATEWAY}; dkim=fail header.d=list.example; dkim=pass header.d=example.ru"],
        [f"{GATEWAY}; spf=softfail; dkim=none; dmarc=none"],
        [f"{GATEWAY}; spf=pass (the old server said dmarc=fail here)"],
        [f'{GATEWAY}; spf=pass reason="dmarc=fail"'],
        [f"{GATEWAY}; none"],
        ["; dmarc=fail"],
    ],
)
def test_results_that_are_not_the_gateways_failure_change_nothing(values: list[str]) -> None:
    assert verdict(*(results(v) for v in values)) is None


def test_without_a_trusted_gateway_no_result_is_believed() -> None:
    assert why_ignored([results(f"{GATEWAY}; dmarc=fail")], SUBJECT) is None


def test_the_authentication_results_field_is_read_by_its_grammar() -> None:
    parsed = parse_authentication_results(
        'mx.gov.example 1; (a comment (nested)) dkim=pass header.d="example.ru; x";'
        " spf=fail smtp.mailfrom=example.ru; dmarc=pass"
    )
    assert parsed is not None and parsed.authserv_id == "mx.gov.example"
    assert parsed.results == {
        "dkim": frozenset({"pass"}),
        "spf": frozenset({"fail"}),
        "dmarc": frozenset({"pass"}),
    }
    assert parse_authentication_results("  ") is None

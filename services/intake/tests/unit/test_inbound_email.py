"""Reading raw e-mail: sender, subject, text, attachments, and the case number it refers to."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from casedesk_intake.domain.inbound_email import InboundEmail, MalformedEmail, parse_email


def message(subject: str = "Вопрос", body: str = "Текст", sender: str = "Иван <ivan@example.ru>"):
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@example.ru"
    mail["Subject"] = subject
    mail["Message-ID"] = "<abc-123@example.ru>"
    mail.set_content(body)
    return mail


def test_plain_message_is_read() -> None:
    email = parse_email(message().as_bytes())
    assert email.from_address == "ivan@example.ru"
    assert email.from_name == "Иван"
    assert (email.subject, email.body, email.message_id) == (
        "Вопрос",
        "Текст",
        "abc-123@example.ru",
    )
    assert email.attachments == ()


def test_html_only_message_becomes_text() -> None:
    mail = message()
    mail.set_content(
        "<html><head><style>p{}</style></head><body><p>Привет</p><p>мир</p></body>", subtype="html"
    )
    assert parse_email(mail.as_bytes()).body == "Привет\nмир"


def test_quoted_reply_is_dropped() -> None:
    body = "Документ приложил.\n\nВ письме от 01.02 Поддержка писал(а):\n> Приложите скан\n"
    assert parse_email(message(body=body).as_bytes()).body == "Документ приложил."


def test_attachments_are_extracted_with_their_content() -> None:
    mail = message()
    mail.add_attachment(
        b"%PDF-1.7 scan", maintype="application", subtype="pdf", filename="скан паспорта.pdf"
    )
    (attachment,) = parse_email(mail.as_bytes()).attachments
    assert (attachment.file_name, attachment.media_type) == ("скан паспорта.pdf", "application/pdf")
    assert attachment.content == b"%PDF-1.7 scan"


@pytest.mark.parametrize(
    ("subject", "candidates"),
    [
        ("Обращение в службу поддержки - 2026-0001234", ["2026-0001234"]),
        ("Re: Обращение в службу поддержки — 2026-0001234", ["2026-0001234"]),
        ("RE: обращение в службу поддержки: №2026-0000007", ["2026-0000007"]),
        ("Обращение в службу поддержки - [2026-0000042]", ["2026-0000042"]),
        ("Ответ по заявке 2025-0100200", ["2025-0100200"]),
        ("Обращение в службу поддержки - 12345", ["12345"]),
        ("Не пришёл код, телефон 8-912-345-67-89", []),
        ("Вопрос без номера", []),
    ],
)
def test_case_number_candidates_from_the_subject(subject: str, candidates: list[str]) -> None:
    email = InboundEmail("", "a@example.ru", "", subject, "", ())
    assert email.case_number_candidates() == candidates


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty"),
        (b"Subject: no sender\r\n\r\nbody", "From"),
        (b"From: not an address\r\nSubject: x\r\n\r\nbody", "From"),
        (b"From: a@example.ru, b@example.ru\r\n\r\nbody", "exactly one"),
    ],
)
def test_unreadable_messages_are_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(MalformedEmail, match=problem):
        parse_email(raw)


def test_control_characters_are_dropped_from_the_text() -> None:
    assert parse_email(message(body="стр\x0cаница\x00").as_bytes()).body == "страница"

from __future__ import annotations

import dataclasses
import email
import email.policy

import pytest

from casedesk_notify.adapters.senders.base import EmailMessage, PermanentFailure
from casedesk_notify.adapters.senders.mime import address_header, build_message

MESSAGE = EmailMessage(
    message_id="<0b6e9a4c-1f2d@notify.casedesk.test>",
    to="ivanov@example.org",
    subject="Обращение в службу поддержки - 2026-0001234 (очень длинная тема письма, " * 2 + ")",
    text="Статус вашего обращения изменился: «Ответ готов».\n" * 20,
    html="<p>Статус: «Ответ готов».</p>",
)


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def test_a_standard_parser_reads_back_every_header_and_both_parts() -> None:
    from_header, envelope = address_header("Служба поддержки <support@casedesk.test>")
    raw = build_message(
        MESSAGE, from_header, "intake@casedesk.test", "Mon, 02 Mar 2026 09:00:00 GMT"
    )
    parsed = parse(raw)
    assert envelope == "support@casedesk.test"
    assert str(parsed["From"]) == "Служба поддержки <support@casedesk.test>"
    assert parsed["Subject"] == MESSAGE.subject
    assert parsed["Message-ID"] == MESSAGE.message_id
    assert parsed["Reply-To"] == "intake@casedesk.test"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content() == MESSAGE.text  # type: ignore[union-attr]
    assert parsed.get_body(("html",)).get_content() == MESSAGE.html  # type: ignore[union-attr]
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)  # RFC 5322's hard limit
    subject_at = next(i for i, line in enumerate(lines) if line.startswith(b"Subject:"))
    assert all(len(line) <= 78 for line in lines[subject_at : subject_at + 3])  # folded
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_the_same_notification_gives_the_same_bytes() -> None:
    date = "Mon, 02 Mar 2026 09:00:00 GMT"
    assert build_message(MESSAGE, "a@b.test", None, date) == build_message(
        MESSAGE, "a@b.test", None, date
    )


@pytest.mark.parametrize(
    "address", ["a@b.test\r\nBcc: x@evil.test", "a@b.test, x@evil.test", "no-at-sign", "<a@b.test>"]
)
def test_a_recipient_that_could_inject_headers_is_refused(address: str) -> None:
    hostile = EmailMessage(MESSAGE.message_id, address, "s", "t", "h")
    with pytest.raises(PermanentFailure):
        build_message(hostile, "a@b.test", None)


def test_a_reply_in_the_citizens_thread_names_his_message() -> None:
    threaded = dataclasses.replace(
        MESSAGE,
        subject="Re: Не приходит SMS-код [Обращение в службу поддержки - 2026-0001234]",
        in_reply_to="<CAF=1x@mail.example.org>",
        references="<CAF=1x@mail.example.org>",
    )
    parsed = parse(build_message(threaded, "a@b.test", None))
    assert parsed["In-Reply-To"] == "<CAF=1x@mail.example.org>"
    assert parsed["References"] == "<CAF=1x@mail.example.org>"
    assert parsed["Subject"] == threaded.subject
    assert "In-Reply-To" not in parse(build_message(MESSAGE, "a@b.test", None))


@pytest.mark.parametrize(
    "ids", ["<a@b>\r\nBcc: x@evil.test", "a@b", "<a@b> <c d@e>", "<a@b>,<c@d>"]
)
def test_threading_headers_that_could_inject_are_refused(ids: str) -> None:
    with pytest.raises(PermanentFailure, match="threading header"):
        build_message(dataclasses.replace(MESSAGE, in_reply_to=ids), "a@b.test", None)


def test_a_subject_stays_one_header_whatever_it_quotes() -> None:
    hostile = dataclasses.replace(MESSAGE, subject="Re: help\r\nBcc: x@evil.test")
    raw = build_message(hostile, "a@b.test", None)
    assert parse(raw)["Bcc"] is None
    assert b"\r\nBcc:" not in raw

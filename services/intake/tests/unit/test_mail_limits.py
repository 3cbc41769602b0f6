"""Raw mail within limits: each limit refused by name, before the slow parser gets to work."""

from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from casedesk_intake.domain.inbound_email import MalformedEmail, parse_email
from casedesk_intake.domain.mail_limits import MailLimits

SENDER = b"From: Ivan <ivan@example.ru>\r\n"
# A parse of any of these took the standard library seconds to minutes; refused, it takes
# milliseconds. The bound is loose (a loaded 2-core machine), the difference is of orders.
REFUSED_WITHIN_S = 2.0


def _refusal(raw: bytes, limits: MailLimits | None = None) -> str:
    started = time.monotonic()
    with pytest.raises(MalformedEmail) as refused:
        parse_email(raw, limits)
    assert time.monotonic() - started < REFUSED_WITHIN_S
    return str(refused.value)


def _multipart(parts: bytes) -> bytes:
    return SENDER + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            SENDER + b"Subject: " + b"word " * 200_000 + b"\r\n\r\nbody",
            "the Subject header is longer than the limit of 8192 bytes",
        ),
        (
            SENDER + b"Subject: " + b"word\r\n " * 500_000 + b"\r\n\r\nbody",
            "the Subject header is longer than the limit of 8192 bytes",
        ),
        (
            SENDER + b"X-Junk: " + b"a" * 20_000 + b"\r\n\r\nbody",
            "the X-Junk header field is longer than the limit of 16384 bytes",
        ),
        (
            SENDER + b"X: v\r\n" * 600_000 + b"\r\nbody",
            "the message has more header fields than the limit of 500",
        ),
        (
            SENDER + b"".join(b"X-%d: " % n + b"a" * 15_000 + b"\r\n" for n in range(10)) + b"\r\n",
            "the header fields together are larger than the limit of 131072 bytes",
        ),
        (
            _multipart(b"--b\r\n\r\n" * 300_000),
            "the message has more MIME parts than the limit of 50",
        ),
        (
            _multipart(
                (b"--b\r\nContent-Type: text/plain\r\n" + b"X: v\r\n" * 14 + b"\r\nx\r\n") * 40
            ),
            "the message has more header fields than the limit of 500",
        ),
    ],
    ids=["subject", "folded-subject", "field", "count", "total", "parts", "count-in-parts"],
)
def test_a_message_over_a_limit_is_refused_quickly_naming_it(raw: bytes, text: str) -> None:
    assert _refusal(raw) == text


def test_nesting_is_bounded_by_the_parts() -> None:
    raw, tail = SENDER, b""
    for depth in range(2000):
        raw += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (depth, depth)
        tail = b"\r\n--b%d--\r\n" % depth + tail
    assert "MIME parts" in _refusal(raw + b"Content-Type: text/plain\r\n\r\nhi" + tail)


def test_a_field_name_is_named_only_when_it_is_plain() -> None:
    raw = SENDER + "X-Жук: ".encode() + b"a" * 20_000 + b"\r\n\r\nbody"
    assert _refusal(raw).startswith("the a header field is longer")


def test_limits_are_settings() -> None:
    raw = SENDER + b"Subject: " + b"a" * 300 + b"\r\n\r\nbody"
    assert "limit of 200 bytes" in _refusal(raw, MailLimits(subject_bytes=200))
    with pytest.raises(ValueError, match="parts"):
        MailLimits(parts=0)


def test_real_mail_is_well_within_the_limits() -> None:
    """A reply deep in a thread, relayed a dozen times, signed, with a few attachments."""
    mail = EmailMessage()
    for hop in range(12):
        mail["Received"] = (
            f"from relay{hop}.example.ru (relay{hop}.example.ru [10.0.0.{hop}]) by mx"
        )
    mail["DKIM-Signature"] = "v=1; a=rsa-sha256; d=example.ru; s=sel; b=" + "A" * 344
    mail["References"] = " ".join(f"<thread-{n}-0123456789abcdef@example.ru>" for n in range(200))
    mail["From"] = "Иван Иванов <ivan@example.ru>"
    mail["Subject"] = "Re: " + "Обращение в службу поддержки - 2026-0001234 " * 6
    mail.set_content("Прикладываю документы.")
    for n in range(5):
        mail.add_attachment(
            b"%PDF-1.7\n", maintype="application", subtype="pdf", filename=f"{n}.pdf"
        )
    email = parse_email(mail.as_bytes())
    assert len(email.attachments) == 5 and email.body == "Прикладываю документы."

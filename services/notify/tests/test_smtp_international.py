"""E-mail to internationalised addresses against real SMTP servers with and without SMTPUTF8."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from casedesk_notify.adapters.senders.base import EmailMessage, PermanentFailure
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.testing.sinks import SmtpSink

MESSAGE = EmailMessage(
    message_id="<7a2e@notify.casedesk.test>",
    to="ivan@почта.рф",
    subject="Обращение в службу поддержки - 2026-0001234",
    text="Статус: «В работе».",
    html="<p>Статус: «В работе».</p>",
)


@pytest.fixture
def utf8_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(smtputf8=True).start()
    yield sink
    sink.stop()


def sender_for(sink: SmtpSink) -> SmtpEmailSender:
    return SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=sink.port, timeout_s=5))


async def send(sink: SmtpSink, to: str) -> None:
    sender = sender_for(sink)
    try:
        await sender.send(dataclasses.replace(MESSAGE, to=to))
    finally:
        await sender.close()


async def test_a_cyrillic_domain_goes_out_as_is_where_the_server_offers_smtputf8(
    utf8_sink: SmtpSink,
) -> None:
    await send(utf8_sink, "ivan@почта.рф")
    [accepted] = utf8_sink.snapshot()
    assert accepted.recipients == ("ivan@почта.рф",)
    assert accepted.smtputf8
    assert accepted.message["To"] == "ivan@почта.рф"
    assert accepted.message_id == MESSAGE.message_id
    assert accepted.body("plain").strip() == "Статус: «В работе»."


async def test_a_cyrillic_local_part_is_delivered_by_an_smtputf8_server(
    utf8_sink: SmtpSink,
) -> None:
    await send(utf8_sink, "иван@почта.рф")
    [accepted] = utf8_sink.snapshot()
    assert accepted.recipients == ("иван@почта.рф",)
    assert accepted.message["To"] == "иван@почта.рф"


async def test_an_ascii_address_does_not_ask_for_smtputf8(utf8_sink: SmtpSink) -> None:
    await send(utf8_sink, "ivanov@example.org")
    [accepted] = utf8_sink.snapshot()
    assert not accepted.smtputf8  # the message then also passes relays further on without it


async def test_a_cyrillic_domain_is_punycoded_for_a_server_without_smtputf8(
    smtp_sink: SmtpSink,
) -> None:
    await send(smtp_sink, "Ivan@Почта.РФ")
    [accepted] = smtp_sink.snapshot()
    assert accepted.recipients == ("Ivan@xn--80a1acny.xn--p1ai",)  # the local part untouched
    assert not accepted.smtputf8
    assert accepted.message["To"] == "Ivan@xn--80a1acny.xn--p1ai"


async def test_a_cyrillic_local_part_without_smtputf8_is_a_clear_permanent_failure(
    smtp_sink: SmtpSink,
) -> None:
    with pytest.raises(PermanentFailure, match="SMTPUTF8") as failure:
        await send(smtp_sink, "иван@почта.рф")
    assert "иван" not in str(failure.value)
    assert smtp_sink.snapshot() == []


@pytest.mark.parametrize("to", ["ivan@почта..рф", "ivan@" + "д" * 64 + ".рф"])
async def test_a_domain_that_is_no_valid_idn_is_a_permanent_failure(
    smtp_sink: SmtpSink, to: str
) -> None:
    with pytest.raises(PermanentFailure, match="internationalised domain"):
        await send(smtp_sink, to)
    assert smtp_sink.snapshot() == []


async def test_a_refusal_quoting_a_cyrillic_address_never_carries_it(utf8_sink: SmtpSink) -> None:
    utf8_sink.fail_next(1, "550 5.1.1 <иван@почта.рф>: mailbox unavailable")
    with pytest.raises(PermanentFailure, match="550") as failure:
        await send(utf8_sink, "иван@почта.рф")
    assert "иван@" not in str(failure.value)

"""The SMTP adapter against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import pytest

from casedesk_notify.adapters.senders.base import (
    DeliveryFailure,
    EmailMessage,
    PermanentFailure,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.testing.sinks import SmtpSink, free_port

# The authenticating test server warns that it allows AUTH without TLS: that is the point.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

MESSAGE = EmailMessage(
    message_id="<3f1c@notify.casedesk.test>",
    to="ivanov@example.org",
    subject="Обращение в службу поддержки - 2026-0001234",
    text="Статус: «В работе».",
    html="<p>Статус: «В работе».</p>",
)


def sender_for(sink: SmtpSink, **overrides) -> SmtpEmailSender:
    settings = {"pool_size": 2, "timeout_s": 5.0, **overrides}
    config = SmtpConfig(host="127.0.0.1", port=sink.port, **settings)
    return SmtpEmailSender(config)


async def test_delivers_a_two_part_message_with_its_message_id(smtp_sink: SmtpSink) -> None:
    sender = sender_for(smtp_sink, reply_to="support-intake@casedesk.test")
    receipt = await sender.send(MESSAGE)
    await sender.close()
    [accepted] = smtp_sink.snapshot()
    assert accepted.recipients == ("ivanov@example.org",)
    assert accepted.message_id == "<3f1c@notify.casedesk.test>"
    assert accepted.message["Subject"] == "Обращение в службу поддержки - 2026-0001234"
    assert accepted.message["Reply-To"] == "support-intake@casedesk.test"
    assert accepted.message["Auto-Submitted"] == "auto-generated"
    assert accepted.body("plain").strip() == "Статус: «В работе»."
    assert accepted.body("html").strip() == "<p>Статус: «В работе».</p>"
    assert receipt.provider_message_id.startswith("2.0.0")


async def test_connections_are_reused(smtp_sink: SmtpSink) -> None:
    sender = sender_for(smtp_sink)
    for _ in range(5):
        await sender.send(MESSAGE)
    await sender.close()
    accepted = smtp_sink.snapshot()
    assert len(accepted) == 5
    assert len({a.peer for a in accepted}) == 1  # sequential sends need one connection


async def test_4xx_is_temporary_and_the_connection_stays_usable(smtp_sink: SmtpSink) -> None:
    sender = sender_for(smtp_sink)
    smtp_sink.fail_next(1)
    with pytest.raises(TemporaryFailure, match="SMTP 451"):
        await sender.send(MESSAGE)
    await sender.send(MESSAGE)
    await sender.close()
    assert len(smtp_sink.snapshot()) == 1


async def test_5xx_is_permanent_and_never_names_the_recipient(smtp_sink: SmtpSink) -> None:
    sender = sender_for(smtp_sink)
    smtp_sink.fail_next(1, "550 5.1.1 <ivanov@example.org>: mailbox unavailable")
    with pytest.raises(PermanentFailure) as failure:
        await sender.send(MESSAGE)
    await sender.close()
    assert "550" in str(failure.value)
    assert "ivanov@example.org" not in str(failure.value)


async def test_an_unreachable_server_is_temporary() -> None:
    sender = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=free_port(), timeout_s=2))
    with pytest.raises(TemporaryFailure, match="SMTP unavailable"):
        await sender.send(MESSAGE)
    await sender.close()


async def test_a_restarted_server_is_reconnected_transparently() -> None:
    sink = SmtpSink().start()
    sender = sender_for(sink)
    await sender.send(MESSAGE)
    sink.stop()  # drops the kept-open connection
    restarted = SmtpSink()
    restarted.port = sink.port
    restarted._controller.port = sink.port  # same address, new server
    restarted.start()
    try:
        await sender.send(MESSAGE)
    finally:
        await sender.close()
        restarted.stop()
    assert len(restarted.snapshot()) == 1


async def test_authenticates_when_configured() -> None:
    sink = SmtpSink(username="notify", password="s3cret").start()
    try:
        good = sender_for(sink, username="notify", password="s3cret")
        await good.send(MESSAGE)
        await good.close()
        bad = sender_for(sink, username="notify", password="wrong", timeout_s=1)
        # aiosmtpd stalls on the LOGIN fallback after refusing PLAIN, so the kind of failure
        # is the test server's; what matters is that nothing is delivered unauthenticated.
        with pytest.raises(DeliveryFailure):
            await bad.send(MESSAGE)
        await bad.close()
    finally:
        sink.stop()
    assert len(sink.snapshot()) == 1

"""The HTTP SMS-gateway adapter against a real HTTP server (aiohttp on 127.0.0.1)."""

from __future__ import annotations

import pytest

from casedesk_notify.adapters.senders.base import (
    OutcomeUnknown,
    PermanentFailure,
    SmsMessage,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.testing.sinks import SmsSink, free_port

MESSAGE = SmsMessage(
    client_id="0b6e-notification", to="+79161234567", text="Обращение 2026-0001234: «Закрыта»."
)


async def test_posts_json_with_bearer_token_and_reads_the_provider_id(sms_sink: SmsSink) -> None:
    sender = HttpSmsSender(
        SmsGatewayConfig(url=sms_sink.url, token="gateway-token", sender_name="GOSUSLUGI")
    )
    receipt = await sender.send(MESSAGE)
    await sender.close()
    [accepted] = sms_sink.accepted
    assert accepted.authorization == "Bearer gateway-token"
    assert accepted.fields == {
        "to": "+79161234567",
        "text": "Обращение 2026-0001234: «Закрыта».",
        "client_message_id": "0b6e-notification",
        "sender": "GOSUSLUGI",
    }
    assert receipt.provider_message_id == "gw-1"


async def test_form_body_with_the_gateways_own_field_names(sms_sink: SmsSink) -> None:
    config = SmsGatewayConfig(
        url=sms_sink.url, token="gateway-token", body_format="form",
        field_to="phone", field_text="message", field_client_id="external_id",
    )  # fmt: skip
    sender = HttpSmsSender(config)
    await sender.send(MESSAGE)
    await sender.close()
    assert sms_sink.accepted[0].fields == {
        "phone": "+79161234567",
        "message": "Обращение 2026-0001234: «Закрыта».",
        "external_id": "0b6e-notification",
    }


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_errors_and_throttling_are_temporary(sms_sink: SmsSink, status: int) -> None:
    sender = HttpSmsSender(SmsGatewayConfig(url=sms_sink.url, token="gateway-token"))
    sms_sink.fail_next(1, status)
    with pytest.raises(TemporaryFailure, match=f"HTTP {status}"):
        await sender.send(MESSAGE)
    await sender.send(MESSAGE)
    await sender.close()
    assert len(sms_sink.accepted) == 1


@pytest.mark.parametrize("status", [400, 422])
async def test_client_errors_are_permanent(sms_sink: SmsSink, status: int) -> None:
    sender = HttpSmsSender(SmsGatewayConfig(url=sms_sink.url, token="gateway-token"))
    sms_sink.fail_next(1, status)
    with pytest.raises(PermanentFailure, match=f"HTTP {status}"):
        await sender.send(MESSAGE)
    await sender.close()


async def test_a_wrong_token_is_permanent(sms_sink: SmsSink) -> None:
    sender = HttpSmsSender(SmsGatewayConfig(url=sms_sink.url, token="stale"))
    with pytest.raises(PermanentFailure, match="HTTP 401"):
        await sender.send(MESSAGE)
    await sender.close()
    assert sms_sink.accepted == []


async def test_timeouts_and_refused_connections_are_temporary(sms_sink: SmsSink) -> None:
    slow = HttpSmsSender(SmsGatewayConfig(url=sms_sink.url, token="gateway-token", timeout_s=0.2))
    sms_sink.delay(1.0)
    # The request reached the gateway, the answer did not come: it may have taken the SMS.
    with pytest.raises(OutcomeUnknown, match="TimeoutError"):
        await slow.send(MESSAGE)
    await slow.close()
    closed = HttpSmsSender(SmsGatewayConfig(url=f"http://127.0.0.1:{free_port()}/send"))
    with pytest.raises(TemporaryFailure, match="unavailable") as refused:
        await closed.send(MESSAGE)
    await closed.close()
    assert not isinstance(refused.value, OutcomeUnknown)  # never connected: certainly not sent

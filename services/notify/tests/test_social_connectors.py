"""The Telegram and VK connectors against a local server speaking their documented subset
(casedesk_notify.testing.social_server): what is sent, what the answers mean."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from casedesk_notify.adapters.outlets import SocialOutlet, network_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.senders.base import (
    DeliveryFailure,
    OutcomeUnknown,
    PermanentFailure,
    TemporaryFailure,
)
from casedesk_notify.adapters.senders.social_http import SocialApiConfig
from casedesk_notify.adapters.senders.telegram import TelegramConnector
from casedesk_notify.adapters.senders.vk import VkConnector, random_id
from casedesk_notify.application.deliveries import Delivery, RenderedMessage, SourceRecord
from casedesk_notify.application.ports import SocialPost
from casedesk_notify.domain import DeliveryChannel
from casedesk_notify.domain.reply_routes import TelegramMessage, VkMessage, VkWallPost
from casedesk_notify.testing.sinks import free_port
from casedesk_notify.testing.social_server import SocialServer

TEXT = "Здравствуйте! Ответ на ваше обращение № 2026-0001234 готов."


@pytest.fixture
async def server() -> AsyncIterator[SocialServer]:
    running = await SocialServer().start()
    yield running
    await running.stop()


@pytest.fixture
async def connectors(server: SocialServer) -> AsyncIterator[dict[str, Any]]:
    telegram = TelegramConnector(SocialApiConfig(server.url, server.telegram_token, timeout_s=5))
    vk = VkConnector(SocialApiConfig(server.url, server.vk_token, timeout_s=5))
    yield {"telegram": telegram, "vk": vk}
    await telegram.close()
    await vk.close()


def post(place, notification_id: str = "9b1d7f7e-0000-4000-8000-000000000001") -> SocialPost:
    return SocialPost(place, TEXT, notification_id)


async def test_telegram_replies_to_the_citizens_message(server, connectors) -> None:
    receipt = await connectors["telegram"].post(post(TelegramMessage(123456789, 42)))
    [sent] = server.posts_to("telegram")
    assert sent.method == "sendMessage"
    assert sent.params == {
        "chat_id": 123456789,
        "text": TEXT,
        "reply_parameters": {"message_id": 42, "allow_sending_without_reply": True},
    }
    assert receipt.provider_message_id == "123456789:1001"


async def test_vk_comments_under_a_wall_post_with_a_guid(server, connectors) -> None:
    receipt = await connectors["vk"].post(post(VkWallPost(-22822305, 1001)))
    [sent] = server.posts_to("vk")
    assert sent.method == "wall.createComment"
    assert sent.params == {
        "owner_id": "-22822305", "post_id": "1001", "message": TEXT,
        "guid": "9b1d7f7e-0000-4000-8000-000000000001", "v": "5.199",
    }  # fmt: skip
    assert receipt.provider_message_id == "501"


async def test_vk_answers_a_private_message_in_its_conversation(server, connectors) -> None:
    nid = "9b1d7f7e-0000-4000-8000-000000000002"
    await connectors["vk"].post(post(VkMessage(12345, 77), nid))
    [sent] = server.posts_to("vk")
    assert sent.method == "messages.send"
    assert sent.params == {
        "peer_id": "12345", "random_id": str(random_id(nid)), "reply_to": "77",
        "message": TEXT, "v": "5.199",
    }  # fmt: skip
    assert 0 < random_id(nid) < 2**31


async def test_a_resend_to_vk_posts_nothing_twice(server, connectors) -> None:
    vk = connectors["vk"]
    first = await vk.post(post(VkMessage(12345, 77)))
    again = await vk.post(post(VkMessage(12345, 77)))  # after an unknown outcome: the same id
    assert first == again
    assert len(server.posts_to("vk")) == 1 and len(server.repeated) == 1


async def test_telegram_overloaded_is_temporary_and_says_when_to_retry(server, connectors) -> None:
    server.fail_next("telegram", 1, "overloaded")
    with pytest.raises(TemporaryFailure) as failed:
        await connectors["telegram"].post(post(TelegramMessage(123456789, 42)))
    assert failed.value.retry_after_s == 1.0
    assert "429" in str(failed.value)
    await connectors["telegram"].post(post(TelegramMessage(123456789, 42)))
    assert len(server.posts_to("telegram")) == 1


@pytest.mark.parametrize(
    ("network", "kind", "failure", "words"),
    [
        ("telegram", "refused", PermanentFailure, "403: Forbidden: bot was blocked by the user"),
        ("vk", "overloaded", TemporaryFailure, "error 6: Too many requests per second"),
        ("vk", "refused", PermanentFailure, "error 901"),
    ],
)
async def test_api_errors_read_as_the_api_means_them(
    server, connectors, network: str, kind: str, failure: type, words: str
) -> None:
    server.fail_next(network, 1, kind)
    place = TelegramMessage(123456789, 42) if network == "telegram" else VkMessage(12345, 77)
    with pytest.raises(DeliveryFailure) as failed:
        await connectors[network].post(post(place))
    assert type(failed.value) is failure and words in str(failed.value)


async def test_a_wrong_token_is_refused_and_never_named(server: SocialServer) -> None:
    telegram = TelegramConnector(SocialApiConfig(server.url, "999:wrong-bot-token"))
    vk = VkConnector(SocialApiConfig(server.url, "wrong-vk-token"))
    try:
        with pytest.raises(PermanentFailure) as telegram_failed:
            await telegram.post(post(TelegramMessage(123456789, 42)))
        with pytest.raises(PermanentFailure) as vk_failed:
            await vk.post(post(VkMessage(12345, 77)))
    finally:
        await telegram.close()
        await vk.close()
    assert "401" in str(telegram_failed.value) and "error 5" in str(vk_failed.value)
    for failure, token in ((telegram_failed, "wrong-bot-token"), (vk_failed, "wrong-vk-token")):
        assert token not in str(failure.value)
    assert server.posts == []


async def test_an_unreachable_api_is_temporary_and_never_names_the_url() -> None:
    token = "123:secret-token"
    telegram = TelegramConnector(SocialApiConfig(f"http://127.0.0.1:{free_port()}", token))
    with pytest.raises(TemporaryFailure) as failed:
        await telegram.post(post(TelegramMessage(1, 2)))
    await telegram.close()
    assert not isinstance(failed.value, OutcomeUnknown)
    assert token not in str(failed.value) and "127.0.0.1" not in str(failed.value)


def delivery(recipient: str) -> Delivery:
    return Delivery(
        notification_id="9b1d7f7e-0000-4000-8000-000000000003",
        source_event_id="e-1",
        case_id="case-1",
        case_version=3,
        correlation_id="c-1",
        channel=DeliveryChannel.SOCIAL,
        recipient=recipient,
        message=RenderedMessage("public_reply@v2", text=TEXT),
        source=SourceRecord("case.events.v1", 0, 3, b"case-1", b""),
    )


async def test_the_social_outlet_routes_by_network(server, connectors) -> None:
    bucket = TokenBucket(1000, 1000)
    outlet = SocialOutlet({name: network_outlet(c, bucket, 2) for name, c in connectors.items()})
    await outlet.send(delivery("vk:-22822305_1001"))
    await outlet.send(delivery("telegram:123456789:42"))
    assert [p.method for p in server.posts] == ["wall.createComment", "sendMessage"]


@pytest.mark.parametrize(
    ("recipient", "why"),
    [
        ("ok:1_2", "no social network 'ok'"),
        ("telegram:not-a-reference", "telegram post_reference is not"),
    ],
)
async def test_what_no_connector_can_post_fails_permanently(
    connectors, recipient: str, why: str
) -> None:
    outlet = SocialOutlet({"vk": network_outlet(connectors["vk"], TokenBucket(1, 1), 1)})
    with pytest.raises(PermanentFailure, match=why):
        await outlet.send(delivery(recipient))


async def test_a_network_without_a_token_configured_fails_permanently(connectors) -> None:
    outlet = SocialOutlet({"vk": network_outlet(connectors["vk"], TokenBucket(1, 1), 1)})
    with pytest.raises(PermanentFailure, match=r"no connector for social network 'telegram'"):
        await outlet.send(delivery("telegram:123456789:42"))

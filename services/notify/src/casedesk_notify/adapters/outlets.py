"""One outlet per channel: the provider adapter behind its rate limit and concurrency cap.

The social channel has one per network (Telegram and VK limit each bot or community apart), and
routes each delivery by its recipient, `<network>:<post_reference>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.senders.base import (
    EmailMessage,
    EmailSender,
    PermanentFailure,
    SendReceipt,
    SmsMessage,
    SmsSender,
)
from casedesk_notify.application.deliveries import Delivery
from casedesk_notify.application.ports import SocialConnector, SocialPost
from casedesk_notify.domain.identity import message_id
from casedesk_notify.domain.reply_routes import UnknownDestination, parse_recipient


class ChannelOutlet:
    def __init__(
        self,
        send: Callable[[Delivery], Awaitable[SendReceipt]],
        bucket: TokenBucket,
        max_in_flight: int,
    ) -> None:
        self._send = send
        self._bucket = bucket
        self._in_flight = asyncio.Semaphore(max_in_flight)

    async def send(self, delivery: Delivery) -> SendReceipt:
        async with self._in_flight:
            await self._bucket.acquire()
            return await self._send(delivery)


def email_outlet(
    sender: EmailSender, message_id_domain: str, bucket: TokenBucket, max_in_flight: int
) -> ChannelOutlet:
    async def send(delivery: Delivery) -> SendReceipt:
        message = delivery.message
        return await sender.send(
            EmailMessage(
                message_id=message_id(delivery.notification_id, message_id_domain),
                to=delivery.recipient,
                subject=message.subject,
                text=message.text,
                html=message.html,
                in_reply_to=message.in_reply_to,
                references=message.references,
            )
        )

    return ChannelOutlet(send, bucket, max_in_flight)


def sms_outlet(sender: SmsSender, bucket: TokenBucket, max_in_flight: int) -> ChannelOutlet:
    async def send(delivery: Delivery) -> SendReceipt:
        return await sender.send(
            SmsMessage(
                client_id=delivery.notification_id,
                to=delivery.recipient,
                text=delivery.message.text,
            )
        )

    return ChannelOutlet(send, bucket, max_in_flight)


def network_outlet(
    connector: SocialConnector, bucket: TokenBucket, max_in_flight: int
) -> ChannelOutlet:
    async def send(delivery: Delivery) -> SendReceipt:
        _, place = parse_recipient(delivery.recipient)
        post = SocialPost(place, delivery.message.text, delivery.notification_id)
        return await connector.post(post)

    return ChannelOutlet(send, bucket, max_in_flight)


class SocialOutlet:
    """The social channel: each delivery to its network's outlet. A reference no network can
    answer, or a network without a connector configured, fails permanently (dead-lettered and
    journaled, so the case's timeline shows the citizen was not answered there)."""

    def __init__(self, networks: Mapping[str, ChannelOutlet]) -> None:
        self._networks = dict(networks)

    async def send(self, delivery: Delivery) -> SendReceipt:
        try:
            network, _ = parse_recipient(delivery.recipient)
        except UnknownDestination as error:
            raise PermanentFailure(str(error)) from None
        outlet = self._networks.get(network)
        if outlet is None:
            configured = ", ".join(sorted(self._networks)) or "none"
            raise PermanentFailure(
                f"no connector for social network {network[:40]!r} (configured: {configured})"
            )
        return await outlet.send(delivery)

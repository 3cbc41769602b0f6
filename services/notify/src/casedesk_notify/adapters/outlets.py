"""One outlet per channel: the provider adapter behind its rate limit and concurrency cap."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.senders.base import (
    EmailMessage,
    EmailSender,
    SendReceipt,
    SmsMessage,
    SmsSender,
)
from casedesk_notify.application.deliveries import Delivery
from casedesk_notify.domain.identity import message_id


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

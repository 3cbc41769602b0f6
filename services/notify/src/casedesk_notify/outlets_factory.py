"""Builds the channel outlets the settings enable (a channel without a provider is off)."""

from __future__ import annotations

from typing import Any

from casedesk_notify.domain import Channel
from casedesk_notify.outlets import ChannelOutlet, email_outlet, sms_outlet
from casedesk_notify.ratelimit import TokenBucket
from casedesk_notify.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.settings import NotifySettings


def build_outlets(settings: NotifySettings) -> tuple[dict[Channel, ChannelOutlet], list[Any]]:
    """The outlets by channel, and the senders to close at shutdown."""
    outlets: dict[Channel, ChannelOutlet] = {}
    senders: list[Any] = []
    if settings.smtp_host:
        email = SmtpEmailSender(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                tls=settings.smtp_tls,
                username=settings.smtp_username,
                password=_secret(settings.smtp_password),
                timeout_s=settings.smtp_timeout_s,
                pool_size=settings.smtp_pool_size,
                sender=settings.email_from,
                reply_to=settings.email_reply_to,
                validate_certs=settings.smtp_validate_certs,
            )
        )
        senders.append(email)
        bucket = TokenBucket(settings.email_rate_per_s, settings.email_burst)
        outlets[Channel.EMAIL] = email_outlet(
            email, settings.message_id_domain, bucket, settings.smtp_pool_size
        )
    if settings.sms_gateway_url:
        sms = HttpSmsSender(
            SmsGatewayConfig(
                url=settings.sms_gateway_url,
                token=_secret(settings.sms_gateway_token),
                body_format=settings.sms_body_format,
                sender_name=settings.sms_sender_name,
                field_to=settings.sms_field_to,
                field_text=settings.sms_field_text,
                field_client_id=settings.sms_field_client_id,
                field_sender=settings.sms_field_sender,
                response_id_field=settings.sms_response_id_field,
                timeout_s=settings.sms_timeout_s,
                max_connections=settings.sms_max_in_flight,
            )
        )
        senders.append(sms)
        bucket = TokenBucket(settings.sms_rate_per_s, settings.sms_burst)
        outlets[Channel.SMS] = sms_outlet(sms, bucket, settings.sms_max_in_flight)
    return outlets, senders


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None

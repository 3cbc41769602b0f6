"""Notify's settings: `CASEDESK_*` environment variables (README lists them all)."""

from __future__ import annotations

import pathlib
import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from casedesk_runtime.settings import ServiceSettings
from casedesk_vocabulary import topics


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    grpc_port: int = Field(default=50055, ge=0, le=65535)

    # uvloop roughly halves the event loop's share of the CPU per message; asyncio is the fallback.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    # Kafka
    consumer_group: str = "notify"
    case_events_topic: str = topics.CASE_EVENTS
    notification_events_topic: str = topics.NOTIFICATION_EVENTS
    # Refused escalation requests are explained to the citizen; empty: not read.
    escalation_decisions_topic: str = topics.ESCALATION_DECISIONS
    fetch_max_wait_ms: int = Field(default=50, ge=1)
    max_batch: int = Field(default=500, ge=1)

    # Durable state (offsets, case cards, delivery states, journal outbox)
    store_path: pathlib.Path = pathlib.Path("notify.sqlite3")
    # NORMAL (WAL): survives a process crash (kill -9, OOM); a power cut may roll back the last
    # commits, whose deliveries are then sent again with the same Message-ID. FULL also survives
    # that, at one fsync per state change.
    store_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"

    # What is sent, and how it reads
    portal_base_url: str = "https://casedesk.local/cases"
    # v2 words a status change by who made it and quotes answers to citizens without a portal
    # account; v1 is kept to go back to.
    template_version: str = "v2"
    notify_on_public_reply: bool = True
    notify_on_escalation: bool = True
    # A specialist's public reply followed within this time by «Ответ готов» (or, the reply being
    # a question, «Требуется уточнение») makes one notice, not two (0: every reply at once). At
    # the desk the two are two clicks apart, seconds; two minutes leave room for a specialist
    # who rereads before marking, and delay a reply nothing follows by no more than that.
    reply_merge_window_s: float = Field(default=120.0, ge=0, le=3600)
    deadline_policy_version: str | None = None  # None: the library's default policy
    # How long the case service leaves a case at «Ответ готов» before closing it: the same
    # variable, syntax and default as the case service's (its settings.py), so that «Ответ
    # готов» tells the period that applies. A number is days; `7d`, `36h`, `90m`, `30s`; P7D.
    auto_close_after: timedelta = Field(default=timedelta(days=7), gt=timedelta())

    # E-mail over SMTP; no host means e-mail is off
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    # The wait for the reply to the end of a message, apart: a timeout there leaves the outcome
    # unknown (the server may have taken the message) and costs a possible duplicate. RFC 5321
    # recommends 10 minutes between MTAs; notify's relay queues and answers in milliseconds.
    smtp_data_timeout_s: float = Field(default=60.0, gt=0)
    # Connections kept open; each message costs ~4 round trips, so parallelism sets throughput.
    smtp_pool_size: int = Field(default=16, ge=1)
    smtp_validate_certs: bool = True
    email_from: str = "Служба поддержки <support@casedesk.local>"
    email_reply_to: str | None = None
    message_id_domain: str = "notify.casedesk.local"
    email_rate_per_s: float = Field(default=100.0, gt=0)
    email_burst: int = Field(default=200, ge=1)

    # SMS over an HTTP gateway; no URL means SMS is off
    sms_gateway_url: str | None = None
    sms_gateway_token: SecretStr | None = None
    sms_body_format: Literal["json", "form"] = "json"
    sms_sender_name: str = ""
    sms_field_to: str = "to"
    sms_field_text: str = "text"
    sms_field_client_id: str = "client_message_id"
    sms_field_sender: str = "sender"
    sms_response_id_field: str = "message_id"
    sms_timeout_s: float = Field(default=5.0, gt=0)
    sms_max_in_flight: int = Field(default=16, ge=1)
    sms_rate_per_s: float = Field(default=50.0, gt=0)
    sms_burst: int = Field(default=100, ge=1)

    # Social networks: answers posted where the citizen wrote. A network is on when its token
    # file is set (the token is read at start and never logged).
    telegram_api_url: str = "https://api.telegram.org"
    telegram_token_file: pathlib.Path | None = None
    vk_api_url: str = "https://api.vk.com"
    vk_token_file: pathlib.Path | None = None
    vk_api_version: str = "5.199"
    social_timeout_s: float = Field(default=10.0, gt=0)
    social_max_in_flight: int = Field(default=8, ge=1)
    # Per network: VK allows a community 20 requests a second, Telegram a bot about 30 messages.
    social_rate_per_s: float = Field(default=20.0, gt=0)
    social_burst: int = Field(default=20, ge=1)

    # Per recipient (phone number, e-mail address), across cases: at most `recipient_limit`
    # notices in any `recipient_window_s` (0: no limit); beyond it notices are held, at most
    # `recipient_hold_max` per recipient, further ones suppressed with a recorded reason.
    recipient_limit: int = Field(default=10, ge=0)
    recipient_window_s: float = Field(default=3600.0, gt=0)
    recipient_hold_max: int = Field(default=20, ge=0)

    # Citizens' sealed personal fields in case events (issue #18): the key service notify opens
    # them with, through this process's mutual TLS. Empty: none; plain events only, a sealed
    # field dead-letters its record. The key cache's bounds as casedesk_keys' settings name them.
    key_service_address: str = ""
    keys_cache_ttl_s: float = Field(default=10.0, gt=0)
    keys_cache_max: int = Field(default=10_000, ge=1)

    # Retries of temporary failures
    max_attempts: int = Field(default=12, ge=1)
    retry_base_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=300.0, gt=0)

    @field_validator("auto_close_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value)

    @model_validator(mode="after")
    def _check(self) -> NotifySettings:
        if self.smtp_host is None and self.sms_gateway_url is None:
            raise ValueError("set CASEDESK_SMTP_HOST and/or CASEDESK_SMS_GATEWAY_URL")
        if self.retry_max_s < self.retry_base_s:
            raise ValueError("CASEDESK_RETRY_MAX_S must not be below CASEDESK_RETRY_BASE_S")
        return self


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhms]?)\s*$")
_UNITS = {"": "days", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(value: object) -> object:
    """`7`, `7d`, `36h`, `90m`, `30s` as a timedelta (a bare number is days), exactly as the case
    service reads the same variable; anything else is left to pydantic's own timedelta parsing
    (ISO 8601 `P7D`), which names the problem."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and (match := _DURATION.match(value.lower())):
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    return value

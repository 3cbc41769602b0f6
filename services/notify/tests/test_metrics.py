"""Notifications sent, retried and dead-lettered by channel, scraped after real SMTP and HTTP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import email_outlet, sms_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, SourceRecord
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_runtime.testing.metrics import Scrape, scrape

SERIES = ("sent", "retried", "dead_lettered")


async def _park(source: SourceRecord, error: str) -> bool:
    return True


@pytest.fixture
async def dispatcher(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> AsyncIterator[Dispatcher]:
    email = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=smtp_sink.port, timeout_s=5))
    gateway = HttpSmsSender(SmsGatewayConfig(url=sms_sink.url, token="gateway-token"))
    outlets = {
        DeliveryChannel.EMAIL: email_outlet(email, "notify.test", TokenBucket(1000, 1000), 4),
        DeliveryChannel.SMS: sms_outlet(gateway, TokenBucket(1000, 1000), 4),
    }
    retry = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, rng=random.Random(7))
    yield Dispatcher(store, outlets, retry, _park, journal=journal)
    await email.close()
    await gateway.close()


def _deliveries(store: DeliveryStore) -> list[Delivery]:
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.EMAIL, DeliveryChannel.SMS), store.card, journal=journal,
    )  # fmt: skip
    created = CaseStream("case-m1", number="2026-0000101").created(
        citizen=a_citizen(email="case-m1@example.org")
    )
    return store.commit_batch(planner.plan([events.record(created, 0)]).changes)


def _counts(before: Scrape, after: Scrape) -> Callable[[str], dict[str, float]]:
    def by_series(channel: str) -> dict[str, float]:
        return {
            series: after.value(f"casedesk_notify_notifications_{series}_total", channel=channel)
            - before.value(f"casedesk_notify_notifications_{series}_total", channel=channel)
            for series in SERIES
        }

    return by_series


async def test_sent_retried_and_dead_lettered_are_counted_by_channel(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher: Dispatcher
) -> None:
    deliveries = _deliveries(store)
    assert sorted(d.channel.value for d in deliveries) == ["email", "sms"]
    smtp_sink.fail_next(2)  # 4xx twice, then accepted
    sms_sink.fail_next(1, 400)  # refused for good: parked
    before = scrape()
    dispatcher.submit(deliveries)
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    counts = _counts(before, scrape())
    assert counts("email") == {"sent": 1, "retried": 2, "dead_lettered": 0}
    assert counts("sms") == {"sent": 0, "retried": 0, "dead_lettered": 1}
    labels = scrape().label_sets("casedesk_notify_notifications_sent_total")
    assert {tuple(sorted(label)) for label in labels} == {("channel",)}  # no recipient, no id

"""Delivering pending deliveries to real SMTP and HTTP receivers: retries, order, dead letters."""

from __future__ import annotations

import asyncio
import random

import pytest

from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import email_outlet, sms_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, DeliveryState, SourceRecord
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.domain.identity import message_id
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_vocabulary.enums import Status

DOMAIN = "notify.casedesk.test"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, rng=random.Random(7))


class Parked:
    """The dead-letter callable: records what it parks; `closed` refuses, as at shutdown."""

    def __init__(self, closed: bool = False) -> None:
        self.records: list[tuple[SourceRecord, str]] = []
        self.closed = closed

    async def __call__(self, source: SourceRecord, error: str) -> bool:
        if self.closed:
            return False
        self.records.append((source, error))
        return True


@pytest.fixture
async def dispatcher_for():
    senders: list = []

    def build(
        store: DeliveryStore, smtp: SmtpSink, sms: SmsSink, parked: Parked, retry=FAST_RETRY
    ) -> Dispatcher:
        email = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=5))
        gateway = HttpSmsSender(SmsGatewayConfig(url=sms.url, token="gateway-token"))
        senders.extend([email, gateway])
        outlets = {
            DeliveryChannel.EMAIL: email_outlet(email, DOMAIN, TokenBucket(1000, 1000), 4),
            DeliveryChannel.SMS: sms_outlet(gateway, TokenBucket(1000, 1000), 4),
        }
        return Dispatcher(store, outlets, retry, parked, journal=journal)

    yield build
    for sender in senders:
        await sender.close()


def plan(store: DeliveryStore, *case_events) -> list[Delivery]:
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.EMAIL, DeliveryChannel.SMS), store.card, journal=journal,
    )  # fmt: skip
    records = [events.record(event, offset) for offset, event in enumerate(case_events)]
    return store.commit_batch(planner.plan(records).changes)


def story(case_id: str, number: str) -> list:
    case = CaseStream(case_id, number=number)
    return [
        case.created(citizen=a_citizen(email=f"{case_id}@example.org")),
        case.status_changed(to=Status.IN_PROGRESS),
        case.status_changed(to=Status.ANSWER_READY),
    ]


def journal_payloads(store: DeliveryStore) -> list[str]:
    return [
        journal_pb2.NotificationEvent.FromString(e.value).WhichOneof("payload")
        for _, e in store.journal_batch(1000)
    ]


async def test_every_delivery_goes_out_once_in_order(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    deliveries = plan(store, *story("case-1", "2026-0000001"))
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, Parked())
    dispatcher.submit(deliveries)
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    await dispatcher.stop(1)
    emails = smtp_sink.snapshot()
    assert [m.message_id for m in emails] == [
        message_id(d.notification_id, DOMAIN)
        for d in deliveries
        if d.channel is DeliveryChannel.EMAIL
    ]
    assert ["«В работе»" in m.body("plain") for m in emails] == [False, True, False]
    assert [s.fields["text"].split(": ", 1)[-1] for s in sms_sink.accepted][1:] == [
        "статус «В работе».",
        "статус «Ответ готов». https://portal.test/cases/2026-0000001",
    ]
    assert all(store.state(d.notification_id) == (DeliveryState.SENT, 1) for d in deliveries)
    assert journal_payloads(store) == ["requested"] * 6 + ["sent"] * 6


async def test_smtp_4xx_is_retried_until_a_single_delivery(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    [email, sms] = plan(store, story("case-1", "2026-0000001")[0])
    smtp_sink.fail_next(2)
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, Parked())
    dispatcher.submit([email, sms])
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    assert len(smtp_sink.snapshot()) == 1
    assert smtp_sink.refused == 2
    assert store.state(email.notification_id) == (DeliveryState.SENT, 3)
    assert store.state(sms.notification_id) == (DeliveryState.SENT, 1)
    assert journal_payloads(store).count("failed") == 2


async def test_a_case_waiting_for_retries_does_not_hold_up_another(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    slow = RetryPolicy(max_attempts=3, base_delay_s=5, max_delay_s=5)
    [stuck, _] = plan(store, story("case-1", "2026-0000001")[0])
    smtp_sink.fail_next(1)
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, Parked(), retry=slow)
    dispatcher.submit([stuck])
    while smtp_sink.refused == 0:
        await asyncio.sleep(0.01)
    [other, _] = plan(store, story("case-2", "2026-0000002")[0])
    dispatcher.submit([other])
    for _ in range(200):
        if smtp_sink.snapshot():
            break
        await asyncio.sleep(0.01)
    assert [m.recipients for m in smtp_sink.snapshot()] == [("case-2@example.org",)]
    await dispatcher.stop(1)  # ends the retry wait at once; the delivery stays pending
    assert store.state(stuck.notification_id) == (DeliveryState.PENDING, 1)


async def test_permanent_failure_is_dead_lettered_with_its_source_record(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    [email, sms] = plan(store, story("case-1", "2026-0000001")[0])
    sms_sink.fail_next(1, 400)
    parked = Parked()
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, parked)
    dispatcher.submit([email, sms])
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    assert store.state(sms.notification_id) == (DeliveryState.DEAD, 1)
    assert store.state(email.notification_id) == (DeliveryState.SENT, 1)
    [(source, error)] = parked.records
    assert (source.topic, source.offset, source.value) == (
        events.TOPIC, 0, sms.source.value,
    )  # fmt: skip
    assert "HTTP 400" in error
    payloads = journal_payloads(store)
    assert payloads.count("dead_lettered") == 1
    assert payloads.count("failed") == 1


async def test_exhausted_temporary_failures_are_dead_lettered(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    [email, _] = plan(store, story("case-1", "2026-0000001")[0])
    smtp_sink.fail_next(10)
    parked = Parked()
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, parked)
    dispatcher.submit([email])
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    assert store.state(email.notification_id) == (DeliveryState.DEAD, 4)
    assert smtp_sink.refused == 4
    assert len(parked.records) == 1
    assert journal_payloads(store).count("failed") == 4


async def test_resumed_deliveries_continue_their_attempt_count(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    [email, _] = plan(store, story("case-1", "2026-0000001")[0])
    smtp_sink.fail_next(3)
    parked = Parked()
    resumed = [d for d in store.pending() if d.channel is DeliveryChannel.EMAIL]
    resumed = [Delivery(**{**d.__dict__, "attempts": 2}) for d in resumed]
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, parked)
    dispatcher.submit(resumed)
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    assert store.state(email.notification_id) == (DeliveryState.DEAD, 4)
    assert smtp_sink.refused == 2


async def test_a_dead_letter_refused_at_shutdown_leaves_the_delivery_pending(
    store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink, dispatcher_for
) -> None:
    [email, sms] = plan(store, story("case-1", "2026-0000001")[0])
    sms_sink.fail_next(1, 400)
    dispatcher = dispatcher_for(store, smtp_sink, sms_sink, Parked(closed=True))
    dispatcher.submit([email, sms])
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    # Not parked, so not dead: resumed after the restart (and parked then).
    assert store.state(sms.notification_id) == (DeliveryState.PENDING, 0)
    assert store.state(email.notification_id) == (DeliveryState.SENT, 1)
    assert "dead_lettered" not in journal_payloads(store)

"""Outcomes the dispatcher settles deliberately, against real SMTP servers: an SMTP timeout after
the message was handed over (unknown: possibly accepted), an address no server here can take."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import email_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, DeliveryState, SourceRecord
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.domain.identity import message_id
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmtpSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_runtime.testing.metrics import Scrape, scrape
from casedesk_vocabulary.enums import ContactChannel

DOMAIN = "notify.casedesk.test"
# The delay before the resend is at least 0.2 s: long enough to see the delivery's state.
RETRY = RetryPolicy(max_attempts=4, base_delay_s=2.0, max_delay_s=2.0, rng=random.Random(3))


class Parked:
    def __init__(self) -> None:
        self.records: list[tuple[SourceRecord, str]] = []

    async def __call__(self, source: SourceRecord, error: str) -> bool:
        self.records.append((source, error))
        return True


@pytest.fixture
async def dispatcher_for() -> AsyncIterator[Callable[..., Dispatcher]]:
    senders: list[SmtpEmailSender] = []

    def build(store: DeliveryStore, smtp: SmtpSink, parked: Parked) -> Dispatcher:
        config = SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=5, data_timeout_s=0.3)
        sender = SmtpEmailSender(config)
        senders.append(sender)
        outlets = {DeliveryChannel.EMAIL: email_outlet(sender, DOMAIN, TokenBucket(100, 100), 4)}
        return Dispatcher(store, outlets, RETRY, parked, journal=journal)

    yield build
    for sender in senders:
        await sender.close()


@pytest.fixture
def utf8_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink(smtputf8=True).start()
    yield sink
    sink.stop()


def plan_acknowledgement(store: DeliveryStore, email: str) -> Delivery:
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.EMAIL,), store.card, journal=journal,
    )  # fmt: skip
    created = CaseStream("case-u1", number="2026-0000301").created(
        citizen=a_citizen(email=email, preferred=ContactChannel.EMAIL)
    )
    [delivery] = store.commit_batch(planner.plan([events.record(created, 0)]).changes)
    return delivery


def journal_of(store: DeliveryStore) -> list[journal_pb2.NotificationEvent]:
    return [journal_pb2.NotificationEvent.FromString(e.value) for _, e in store.journal_batch(100)]


def delta(before: Scrape, after: Scrape, series: str) -> float:
    name = f"casedesk_notify_notifications_{series}_total"
    return after.value(name, channel="email") - before.value(name, channel="email")


async def test_an_smtp_timeout_after_data_is_settled_as_unknown_and_resent_under_one_message_id(
    store: DeliveryStore, smtp_sink: SmtpSink, dispatcher_for
) -> None:
    delivery = plan_acknowledgement(store, "ivanov@example.org")
    smtp_sink.stall_next(1, 2.0, at="data")  # keeps the message, answers after notify gave up
    before = scrape()
    dispatcher = dispatcher_for(store, smtp_sink, Parked())
    dispatcher.submit([delivery])

    # While the resend waits, the delivery says what is known: possibly accepted.
    for _ in range(300):
        if store.state(delivery.notification_id) == (DeliveryState.UNKNOWN, 1):
            break
        await asyncio.sleep(0.005)
    assert store.state(delivery.notification_id) == (DeliveryState.UNKNOWN, 1)
    await asyncio.wait_for(dispatcher.wait_idle(), 10)

    # Two copies reached the server; both carry the one Message-ID, so mail systems that
    # deduplicate by it show one, and the duplicate is counted and explained, not silent.
    accepted = smtp_sink.snapshot()
    assert [m.message_id for m in accepted] == [message_id(delivery.notification_id, DOMAIN)] * 2
    assert store.state(delivery.notification_id) == (DeliveryState.SENT, 2)
    assert store.unknown_outcomes(delivery.notification_id) == 1
    entries = journal_of(store)
    assert [e.WhichOneof("payload") for e in entries] == ["requested", "failed", "sent"]
    unknown = entries[1].failed
    assert unknown.temporary and unknown.attempt == 1
    assert "outcome unknown" in unknown.error and "same Message-ID" in unknown.error
    after = scrape()
    assert delta(before, after, "outcome_unknown") == 1
    assert delta(before, after, "possible_duplicates") == 1
    assert delta(before, after, "retried") == 0
    assert delta(before, after, "sent") == 1


async def test_a_cyrillic_local_part_fails_for_good_at_the_first_attempt_without_smtputf8(
    store: DeliveryStore, smtp_sink: SmtpSink, dispatcher_for
) -> None:
    delivery = plan_acknowledgement(store, "иван@почта.рф")
    parked = Parked()
    dispatcher = dispatcher_for(store, smtp_sink, parked)
    dispatcher.submit([delivery])
    await asyncio.wait_for(dispatcher.wait_idle(), 5)  # no retries for minutes
    assert store.state(delivery.notification_id) == (DeliveryState.DEAD, 1)
    [(_, reason)] = parked.records
    assert "SMTPUTF8" in reason and "иван" not in reason
    failed = [e.failed for e in journal_of(store) if e.WhichOneof("payload") == "failed"]
    assert [(f.temporary, f.attempt) for f in failed] == [(False, 1)]
    assert smtp_sink.snapshot() == []


async def test_ivan_at_pochta_rf_is_delivered_by_an_smtputf8_server(
    store: DeliveryStore, utf8_sink: SmtpSink, dispatcher_for
) -> None:
    delivery = plan_acknowledgement(store, "ivan@почта.рф")
    dispatcher = dispatcher_for(store, utf8_sink, Parked())
    dispatcher.submit([delivery])
    await asyncio.wait_for(dispatcher.wait_idle(), 5)
    assert store.state(delivery.notification_id) == (DeliveryState.SENT, 1)
    [accepted] = utf8_sink.snapshot()
    assert accepted.recipients == ("ivan@почта.рф",)
    assert "2026-0000301" in accepted.message["Subject"]

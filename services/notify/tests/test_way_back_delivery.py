"""The way back end to end in one process: case events and escalation decisions planned and
committed in the store, then sent by the dispatcher to a real SMTP server and the local social
server, exactly once, with retries as the API asks."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime

import pytest

from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import SocialOutlet, email_outlet, network_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.senders.social_http import SocialApiConfig
from casedesk_notify.adapters.senders.telegram import TelegramConnector
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, DeliveryState
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy, ReplyWindow
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmtpSink
from casedesk_notify.testing.social_server import SocialServer
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_notify.wire.escalation_decisions import EscalationDecisionDecoder
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Status

DOMAIN = "notify.casedesk.test"
ANSWER = "Код отправлен повторно."
RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, rng=random.Random(3))
CHANNELS = (DeliveryChannel.EMAIL, DeliveryChannel.SMS, DeliveryChannel.SOCIAL)


@pytest.fixture
async def social() -> AsyncIterator[SocialServer]:
    server = await SocialServer().start()
    yield server
    await server.stop()


def planner(store: DeliveryStore) -> BatchPlanner:
    return BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), CHANNELS, store.card, journal=journal,
        window=ReplyWindow(120), load_deferred=store.deferred,
        decoders={events.DECISIONS_TOPIC: EscalationDecisionDecoder()},
    )  # fmt: skip


def commit(store: DeliveryStore, records) -> list[Delivery]:
    return store.commit_batch(planner(store).plan(records).changes)


def journal_of(store: DeliveryStore) -> list[journal_pb2.NotificationEvent]:
    entries = store.journal_batch(1000)
    return [journal_pb2.NotificationEvent.FromString(entry.value) for _, entry in entries]


async def dispatch(store: DeliveryStore, deliveries, outlets) -> None:
    dispatcher = Dispatcher(store, outlets, RETRY, _never_parked, journal=journal)
    dispatcher.submit(deliveries)
    await asyncio.wait_for(dispatcher.wait_idle(), 15)
    await dispatcher.stop(1)


async def _never_parked(source, error: str) -> bool:
    raise AssertionError(f"nothing should be dead-lettered here: {error}")


async def test_a_reply_and_answer_ready_make_one_private_post_with_the_answer(
    store: DeliveryStore, social: SocialServer
) -> None:
    case = CaseStream("case-s", number="2026-0000013")
    story = [
        events.created_by_social(case, "telegram", "123456789:42", private=True),
        case.commented(body=ANSWER),
        case.status_changed(to=Status.ANSWER_READY),
    ]
    created = commit(store, [events.record(e, i) for i, e in enumerate(story)])
    posts = [d for d in created if d.channel is DeliveryChannel.SOCIAL]
    assert [d.message.template for d in posts] == ["status_changed@v2"]  # the reply merged
    telegram = TelegramConnector(SocialApiConfig(social.url, social.telegram_token))
    social.fail_next("telegram", 1, "overloaded")  # 429, retry_after 1
    outlet = SocialOutlet({"telegram": network_outlet(telegram, TokenBucket(100, 100), 2)})
    try:
        await dispatch(store, posts, {DeliveryChannel.SOCIAL: outlet})
    finally:
        await telegram.close()
    [post] = social.posts_to("telegram")
    assert ANSWER in post.params["text"] and post.params["chat_id"] == 123456789
    assert store.state(posts[0].notification_id) == (DeliveryState.SENT, 2)
    [failed] = [
        e for e in journal_of(store)
        if e.WhichOneof("payload") == "failed" and e.notification_id == posts[0].notification_id
    ]  # fmt: skip
    waited = failed.failed.retry_at.ToDatetime() - failed.meta.occurred_at.ToDatetime()
    assert waited.total_seconds() > 0.99  # as Telegram's retry_after said, not the backoff
    sent = [e for e in journal_of(store) if e.WhichOneof("payload") == "sent"]
    assert [(e.channel, e.recipient_masked) for e in sent] == [
        (journal_pb2.SOCIAL, "telegram:*******89:42")
    ]


async def test_an_email_case_is_answered_in_the_citizens_thread(
    store: DeliveryStore, smtp_sink: SmtpSink
) -> None:
    case = CaseStream("case-e", number="2026-0000011")
    story = [
        events.created_by_email(case, "<m-1@mail.example.org>", "ivan@example.org", "Вход"),
        case.commented(body=ANSWER),
        case.status_changed(to=Status.ANSWER_READY),
    ]
    created = commit(store, [events.record(e, i) for i, e in enumerate(story)])
    emails = [d for d in created if d.channel is DeliveryChannel.EMAIL]
    sender = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=smtp_sink.port, timeout_s=5))
    try:
        outlet = email_outlet(sender, DOMAIN, TokenBucket(100, 100), 2)
        await dispatch(store, emails, {DeliveryChannel.EMAIL: outlet})
    finally:
        await sender.close()
    acknowledgement, answer = smtp_sink.snapshot()
    for message in (acknowledgement, answer):
        assert message.message["In-Reply-To"] == "<m-1@mail.example.org>"
        assert message.message["References"] == "<m-1@mail.example.org>"
        assert (
            message.message["Subject"] == "Re: Вход [Обращение в службу поддержки - 2026-0000011]"
        )
    assert ANSWER in answer.body("plain")
    assert len({m.message_id for m in (acknowledgement, answer)}) == 2


async def test_a_refused_escalation_request_is_explained_once(store: DeliveryStore) -> None:
    case = CaseStream("case-r", number="2026-0000014")
    commit(store, [events.record(case.created(), 0)])
    refusal = events.refused_request(
        case, "the case is at L3; escalation never goes above L3", "UNSATISFYING_ANSWER"
    )
    records = [events.decision_record(refusal, 7)]
    created = commit(store, records)
    assert [(d.channel, d.message.template) for d in created] == [
        (DeliveryChannel.EMAIL, "escalation_rejected@v2"),
        (DeliveryChannel.SMS, "escalation_rejected@v2"),
    ]
    assert "высший уровень поддержки" in created[0].message.text
    assert store.stored_offsets(events.DECISIONS_TOPIC) == {0: 8}
    assert commit(store, records) == []  # read again: the same notification ids


async def test_a_poisoned_decision_is_reported_like_a_poisoned_case_event(
    store: DeliveryStore,
) -> None:
    poisoned = events.Record(events.DECISIONS_TOPIC, 1, 3, b"case-x", b"\x08\x96")
    planned = planner(store).plan([poisoned])
    assert [(r.topic, r.offset) for r, _ in planned.poisoned] == [(events.DECISIONS_TOPIC, 3)]
    store.commit_batch(planned.changes)
    assert store.stored_offsets(events.DECISIONS_TOPIC) == {1: 4}


def test_the_journal_names_the_social_channel(store: DeliveryStore) -> None:
    case = CaseStream("case-v", number="2026-0000015")
    story = [events.created_by_social(case, "vk", "-22822305_1001", private=False)]
    story.append(case.commented(body=ANSWER))
    created = commit(store, [events.record(e, i) for i, e in enumerate(story)])
    [post] = [d for d in created if d.channel is DeliveryChannel.SOCIAL]
    assert post.recipient == "vk:-22822305_1001" and ANSWER not in post.message.text
    assert isinstance(post.deferred_until, datetime)  # a reply waits out its window
    requested = [e for e in journal_of(store) if e.channel == journal_pb2.SOCIAL]
    assert [e.recipient_masked for e in requested] == ["vk:*******05_1001"]

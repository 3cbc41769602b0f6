"""A reply and the status change that follows it within the window make one notice: real SQLite,
real SMTP and HTTP receivers, the batch handler and lanes as notify runs them, restarts included."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import email_outlet, sms_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.deliveries import DeliveryState, SourceRecord
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy, ReplyWindow
from casedesk_notify.domain.identity import message_id, notification_id
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_vocabulary.enums import ActorKind, Channel, Status

DOMAIN = "notify.casedesk.test"
WINDOW_S = 120.0
ANSWER = "Код отправлен повторно, проверьте СМС."
EMAIL, SMS = DeliveryChannel.EMAIL, DeliveryChannel.SMS


async def _park(source: SourceRecord, error: str) -> bool:
    return True


async def _park_record(record: Any, error: Exception | str) -> bool:
    return True


class Notify:
    """notify's consumer side and lanes on one store, as `__main__` wires them (no Kafka: the
    test hands over the batches a poll would return)."""

    def __init__(self, path: pathlib.Path, smtp: SmtpSink, sms: SmsSink, window_s: float) -> None:
        self.store = DeliveryStore(path)
        self._email = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=5))
        self._sms = HttpSmsSender(SmsGatewayConfig(url=sms.url, token="gateway-token"))
        outlets = {
            EMAIL: email_outlet(self._email, DOMAIN, TokenBucket(1000, 1000), 4),
            SMS: sms_outlet(self._sms, TokenBucket(1000, 1000), 4),
        }
        self.dispatcher = Dispatcher(
            self.store, outlets, RetryPolicy(3, 0.01, 0.05), _park, journal=journal,
            reply_window_s=window_s,
        )  # fmt: skip
        planner = BatchPlanner(
            CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
            NotifyPolicy(), (EMAIL, SMS), self.store.card, journal=journal,
            window=ReplyWindow(window_s), load_deferred=self.store.deferred,
        )  # fmt: skip
        self.handler = BatchHandler(
            self.store, planner, self.dispatcher, _park_record, lambda: None
        )
        self.dispatcher.submit(self.store.pending())  # resume, as at start
        self._offset = max(self.store.stored_offsets(events.TOPIC).values(), default=0)
        self.stopped = False

    async def consume(self, *case_events) -> None:
        records = [events.record(e, self._offset + i) for i, e in enumerate(case_events)]
        self._offset += len(records)
        await self.handler.handle(records)

    async def stop(self) -> None:
        self.stopped = True
        await self.dispatcher.stop(1.0)
        await self._email.close()
        await self._sms.close()
        self.store.close()


@pytest.fixture
async def notify_at(
    tmp_path: pathlib.Path, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> AsyncIterator[Callable[..., Notify]]:
    running: list[Notify] = []

    def start(window_s: float = WINDOW_S) -> Notify:
        started = Notify(tmp_path / "notify.sqlite3", smtp_sink, sms_sink, window_s)
        running.append(started)
        return started

    yield start
    for instance in running:
        if not instance.stopped:
            await instance.stop()


def a_case(at: datetime, login: str = "") -> CaseStream:
    """An e-mail case of a citizen without a portal account (the answer goes in the notice)."""
    case = CaseStream("case-1", number="2026-0000001", channel=Channel.EMAIL, at=at)
    case.created(citizen=a_citizen(email="ivanov@example.org", account_login=login))
    case.status_changed(to=Status.IN_PROGRESS)
    return case


def mails_of(smtp: SmtpSink, event) -> list:
    wanted = message_id(notification_id(event.meta.event_id, EMAIL), DOMAIN)
    return [m for m in smtp.snapshot() if m.message_id == wanted]


def texts_of(sms: SmsSink, event) -> list:
    wanted = notification_id(event.meta.event_id, SMS)
    return [s for s in sms.accepted if s.fields["client_message_id"] == wanted]


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def journal_merges(store: DeliveryStore) -> list[journal_pb2.Merged]:
    found = []
    for _, entry in store.journal_batch(1000):
        event = journal_pb2.NotificationEvent.FromString(entry.value)
        assert event.WhichOneof("payload") != "failed", event  # a merge is no failure
        if event.WhichOneof("payload") == "merged":
            found.append(event.merged)
    return found


async def test_a_reply_and_answer_ready_in_one_batch_make_one_email_and_one_sms(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    now = datetime.now(UTC)
    case = a_case(now)
    reply = case.commented(body=ANSWER, at=now + timedelta(seconds=1))
    ready = case.status_changed(to=Status.ANSWER_READY, at=now + timedelta(seconds=20))
    notify = notify_at()
    await notify.consume(*case.events)
    await until(lambda: bool(mails_of(smtp_sink, ready) and texts_of(sms_sink, ready)))
    await asyncio.sleep(0.3)  # anything more would arrive meanwhile

    assert mails_of(smtp_sink, reply) == texts_of(sms_sink, reply) == []
    [mail], [text] = mails_of(smtp_sink, ready), texts_of(sms_sink, ready)
    assert "изменился: «Ответ готов»" in mail.body("plain")
    assert f"Ответ специалиста:\n{ANSWER}" in mail.body("plain")  # no portal account
    assert text.fields["text"].endswith(f"Ответ: {ANSWER}")
    for channel in (EMAIL, SMS):
        state = notify.store.state(notification_id(reply.meta.event_id, channel))
        assert state == (DeliveryState.MERGED, 0)
    merged = journal_merges(notify.store)
    assert sorted((m.into_notification_id, m.reason) for m in merged) == sorted(
        (into, f"merged into {into}: the status notice that followed this reply within 120 s "
         "carries it")
        for into in (notification_id(ready.meta.event_id, c) for c in (EMAIL, SMS))
    )  # fmt: skip


async def test_a_reply_waits_in_its_lane_for_the_status_change_of_a_later_batch(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    now = datetime.now(UTC)
    case = a_case(now, login="ivanov.ii")  # with an account: the answer stays on the portal
    notify = notify_at()
    await notify.consume(*case.events)
    reply = case.commented(body=ANSWER)
    await notify.consume(reply)
    await asyncio.sleep(0.3)
    assert mails_of(smtp_sink, reply) == []  # in its window
    ready = case.status_changed(to=Status.ANSWER_READY)
    await notify.consume(ready)
    await until(lambda: bool(mails_of(smtp_sink, ready) and texts_of(sms_sink, ready)))
    await asyncio.wait_for(notify.dispatcher.wait_idle(), 5)  # the reply's lanes were released

    assert mails_of(smtp_sink, reply) == texts_of(sms_sink, reply) == []
    [mail] = mails_of(smtp_sink, ready)
    assert "Текст ответа доступен на портале" in mail.body("plain")
    assert ANSWER not in mail.body("plain")


async def test_a_specialists_question_and_the_clarification_request_make_one_notice(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    case = a_case(datetime.now(UTC))
    question = case.commented(body="Уточните, пожалуйста, оператора связи.")
    asked = case.status_changed(to=Status.WAITING_FOR_CITIZEN, reason="internal wording")
    notify = notify_at()
    await notify.consume(*case.events)
    await until(lambda: bool(mails_of(smtp_sink, asked) and texts_of(sms_sink, asked)))
    await asyncio.sleep(0.3)
    assert mails_of(smtp_sink, question) == []
    [mail] = mails_of(smtp_sink, asked)
    assert "Вопрос специалиста:\nУточните, пожалуйста, оператора связи." in mail.body("plain")
    assert "internal wording" not in mail.body("plain")  # the reason is not the citizen's


async def test_a_restart_inside_the_window_neither_loses_nor_doubles_the_notice(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    case = a_case(datetime.now(UTC))
    reply = case.commented(body=ANSWER)
    first = notify_at()
    await first.consume(*case.events)  # the reply is committed, deferred
    await until(lambda: len(smtp_sink.snapshot()) == 2)  # registration, «В работе»
    await first.stop()  # inside the window

    second = notify_at()  # resumes the deferred reply in its lanes
    assert [d.deferred_until for d in second.store.pending()] == [
        reply.meta.occurred_at.ToDatetime(UTC) + timedelta(seconds=WINDOW_S)
    ] * 2
    ready = case.status_changed(to=Status.ANSWER_READY)
    await second.consume(ready)
    await until(lambda: bool(mails_of(smtp_sink, ready) and texts_of(sms_sink, ready)))
    await asyncio.wait_for(second.dispatcher.wait_idle(), 5)

    assert mails_of(smtp_sink, reply) == texts_of(sms_sink, reply) == []
    assert [len(mails_of(smtp_sink, ready)), len(texts_of(sms_sink, ready))] == [1, 1]
    assert ANSWER in mails_of(smtp_sink, ready)[0].body("plain")
    assert len(smtp_sink.snapshot()) == 3 and len(sms_sink.accepted) == 3
    assert second.store.pending() == []


async def test_a_restart_longer_than_the_window_still_merges_what_waits_to_be_read(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    # The reply and «Ответ готов» 10 s apart, both 200 s ago: notify was down meanwhile and
    # has read only the reply so far. The window ended by the clock, not by what was read.
    then = datetime.now(UTC) - timedelta(seconds=200)
    case = a_case(then)
    reply = case.commented(body=ANSWER)
    first = notify_at()
    await first.consume(*case.events)
    await first.stop()

    second = notify_at()
    await asyncio.sleep(0.3)
    assert mails_of(smtp_sink, reply) == []  # due, but the consumer has not read past it
    ready = case.status_changed(to=Status.ANSWER_READY, at=then + timedelta(seconds=10))
    await second.consume(ready)
    await until(lambda: bool(mails_of(smtp_sink, ready) and texts_of(sms_sink, ready)))
    await asyncio.wait_for(second.dispatcher.wait_idle(), 5)
    assert mails_of(smtp_sink, reply) == texts_of(sms_sink, reply) == []


async def test_a_reply_nothing_follows_goes_alone_once_its_window_ended_and_all_was_read(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    case = a_case(datetime.now(UTC) - timedelta(seconds=WINDOW_S - 0.5))
    reply = case.commented(body=ANSWER)
    notify = notify_at()
    await notify.consume(*case.events)
    await asyncio.sleep(1.0)  # the window ended; the consumer has not said it read everything
    assert mails_of(smtp_sink, reply) == []
    notify.handler.caught_up()  # an empty poll at the end of every partition
    await until(lambda: bool(mails_of(smtp_sink, reply) and texts_of(sms_sink, reply)))
    await asyncio.wait_for(notify.dispatcher.wait_idle(), 5)

    [mail] = mails_of(smtp_sink, reply)
    assert f"Ответ специалиста:\n{ANSWER}" in mail.body("plain")
    assert notify.store.state(notification_id(reply.meta.event_id, EMAIL)) == (
        DeliveryState.SENT, 1,
    )  # fmt: skip
    # A status change after the window is a notice of its own; the reply stays sent once.
    ready = case.status_changed(to=Status.ANSWER_READY)
    await notify.consume(ready)
    await until(lambda: bool(mails_of(smtp_sink, ready)))
    assert ANSWER not in mails_of(smtp_sink, ready)[0].body("plain")
    assert len(mails_of(smtp_sink, reply)) == 1


async def test_a_stalled_consumer_delays_a_lone_reply_by_at_most_one_more_window(
    notify_at, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    case = a_case(datetime.now(UTC))
    reply = case.commented(body=ANSWER)
    notify = notify_at(window_s=0.3)
    await notify.consume(*case.events)
    # Never caught up, nothing more read: sent once the window and one more have passed.
    await until(lambda: bool(mails_of(smtp_sink, reply) and texts_of(sms_sink, reply)), 5)


def test_a_status_change_after_the_window_takes_no_reply(tmp_path: pathlib.Path) -> None:
    store = DeliveryStore(tmp_path / "plan.sqlite3")
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (EMAIL, SMS), store.card, journal=journal,
        window=ReplyWindow(WINDOW_S), load_deferred=store.deferred,
    )  # fmt: skip
    now = datetime.now(UTC)
    case = a_case(now)
    case.commented(body=ANSWER, at=now)
    late = case.status_changed(to=Status.ANSWER_READY, at=now + timedelta(seconds=WINDOW_S + 1))
    planned = planner.plan([events.record(e, i) for i, e in enumerate(case.events)])
    assert planned.changes.merged == []
    store.commit_batch(planned.changes)
    assert [d.message.kind for d in store.deferred("case-1")] == ["public_reply"] * 2
    status = [d for d, _ in planned.changes.deliveries if d.source_event_id == late.meta.event_id]
    assert all(ANSWER not in d.message.text for d in status)
    store.close()


def test_a_reply_its_lane_released_is_not_merged_too(tmp_path: pathlib.Path) -> None:
    store = DeliveryStore(tmp_path / "plan.sqlite3")
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (EMAIL, SMS), store.card, journal=journal,
        window=ReplyWindow(WINDOW_S), load_deferred=store.deferred,
    )  # fmt: skip
    case = a_case(datetime.now(UTC))
    reply = case.commented(body=ANSWER)
    store.commit_batch(
        planner.plan([events.record(e, i) for i, e in enumerate(case.events)]).changes
    )
    email_id = notification_id(reply.meta.event_id, EMAIL)
    assert store.release(email_id)  # the lane got there first: it is being sent
    ready = case.status_changed(to=Status.ANSWER_READY)
    planned = planner.plan([events.record(ready, len(case.events))])
    assert [d.notification_id for d, _ in planned.changes.merged] == [
        notification_id(reply.meta.event_id, SMS)
    ]
    store.commit_batch(planned.changes)
    assert store.state(email_id) == (DeliveryState.PENDING, 0)
    assert not store.release(notification_id(reply.meta.event_id, SMS))  # merged: never sent
    store.close()


def test_a_citizens_comment_is_no_reply_to_merge(tmp_path: pathlib.Path) -> None:
    store = DeliveryStore(tmp_path / "plan.sqlite3")
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (EMAIL, SMS), store.card, journal=journal,
        window=ReplyWindow(WINDOW_S), load_deferred=store.deferred,
    )  # fmt: skip
    case = a_case(datetime.now(UTC))
    case.status_changed(to=Status.WAITING_FOR_CITIZEN)
    case.commented(body="МТС", by=ActorKind.CITIZEN)
    case.status_changed(to=Status.IN_PROGRESS, by=ActorKind.CITIZEN)
    planned = planner.plan([events.record(e, i) for i, e in enumerate(case.events)])
    assert planned.changes.merged == []
    answered = planned.changes.deliveries[-2][0]
    assert "Ваш ответ на запрос уточнения получен" in answered.message.text
    store.close()

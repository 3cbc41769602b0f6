"""The per-recipient limit: a sliding window per phone number and e-mail address, notices beyond
it held (a later status notice of the same case replaces a held one), and beyond a cap of held
notices suppressed with a recorded reason. Against a real HTTP SMS gateway."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable

import pytest

from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import sms_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, DeliveryState, SourceRecord
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.domain.recipient_limit import RecipientLimit, recipient_key
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sinks import SmsSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream, a_citizen
from casedesk_runtime.testing.metrics import scrape
from casedesk_vocabulary.enums import ContactChannel, Status

PHONE = "+79161234567"
RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, rng=random.Random(7))

# -- the window itself (pure) ----------------------------------------------------------------


def test_the_window_lets_limit_notices_through_then_says_when_the_next_may_go() -> None:
    window = RecipientLimit(limit=3, window_s=60, hold_max=5)
    for now in (0.0, 10.0, 20.0):
        assert window.wait("k", now) == 0
        window.record("k", now)
    assert window.wait("k", 30.0) == 30.0  # the one at 0 leaves the window at 60
    assert window.wait("other", 30.0) == 0  # recipients do not share a window
    assert window.wait("k", 60.0) == 0
    window.record("k", 60.0)
    assert window.wait("k", 61.0) == 9.0  # sliding: now the one at 10 is the oldest counted


def test_held_notices_are_capped_per_recipient() -> None:
    window = RecipientLimit(limit=1, window_s=60, hold_max=2)
    assert window.hold("k") and window.hold("k")
    assert not window.hold("k")  # a third one is suppressed by the caller
    assert window.hold("other")
    window.release("k")
    assert window.hold("k")


def test_memory_is_given_back_once_a_window_has_passed() -> None:
    window = RecipientLimit(limit=2, window_s=10, hold_max=1)
    for index in range(1000):
        window.record(f"r{index}", float(index) / 100)
    window.record("late", 100.0)
    assert window.tracked() == 1


@pytest.mark.parametrize("limit", [0])
def test_a_limit_of_zero_means_no_limit(limit: int) -> None:
    window = RecipientLimit(limit=limit, window_s=60, hold_max=1)
    for now in range(100):
        window.record("k", float(now))
    assert window.wait("k", 100.0) == 0


def test_one_recipient_however_it_is_written() -> None:
    assert recipient_key(DeliveryChannel.SMS, "+7 (916) 123-45-67") == recipient_key(
        DeliveryChannel.SMS, "+79161234567"
    )
    assert recipient_key(DeliveryChannel.EMAIL, "Ivanov@Example.ORG") == recipient_key(
        DeliveryChannel.EMAIL, "ivanov@example.org"
    )
    assert recipient_key(DeliveryChannel.SMS, "+79161234567") != recipient_key(
        DeliveryChannel.EMAIL, "+79161234567"
    )


# -- the dispatcher holding, merging and suppressing -----------------------------------------


class Parked:
    def __init__(self) -> None:
        self.records: list[tuple[SourceRecord, str]] = []

    async def __call__(self, source: SourceRecord, error: str) -> bool:
        self.records.append((source, error))
        return True


@pytest.fixture
async def dispatcher_for() -> AsyncIterator[Callable[..., Dispatcher]]:
    senders: list[HttpSmsSender] = []

    def build(
        store: DeliveryStore, sms: SmsSink, limit: RecipientLimit, parked: Parked | None = None
    ) -> Dispatcher:
        gateway = HttpSmsSender(SmsGatewayConfig(url=sms.url, token="gateway-token"))
        senders.append(gateway)
        outlets = {DeliveryChannel.SMS: sms_outlet(gateway, TokenBucket(1000, 1000), 4)}
        return Dispatcher(
            store, outlets, RETRY, parked or Parked(), journal=journal, recipients=limit
        )

    yield build
    for sender in senders:
        await sender.close()


def plan(store: DeliveryStore, *case_events) -> list[Delivery]:
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.SMS,), store.card, journal=journal,
    )  # fmt: skip
    records = [events.record(event, offset) for offset, event in enumerate(case_events)]
    return store.commit_batch(planner.plan(records).changes)


def sms_citizen(phone: str = PHONE):
    return a_citizen(phone=phone, preferred=ContactChannel.SMS)


def decisions(store: DeliveryStore) -> dict[str, list[tuple[str, str]]]:
    """notify's own decisions journaled per notification: (payload, reason); no attempt failed."""
    found: dict[str, list[tuple[str, str]]] = {}
    for _, entry in store.journal_batch(1000):
        event = journal_pb2.NotificationEvent.FromString(entry.value)
        kind = event.WhichOneof("payload")
        assert kind != "failed", event  # a decision is never journaled as a failure
        if kind in ("held", "superseded", "suppressed", "merged"):
            found.setdefault(event.notification_id, []).append((kind, getattr(event, kind).reason))
    return found


async def test_a_burst_for_one_recipient_is_held_and_a_held_status_notice_merged(
    store: DeliveryStore, sms_sink: SmsSink, dispatcher_for
) -> None:
    case = CaseStream("case-r1", number="2026-0000401")
    created = case.created(citizen=sms_citizen())
    changes = [case.status_changed(to=s) for s in
               (Status.IN_PROGRESS, Status.WAITING_FOR_CITIZEN, Status.ANSWER_READY)]  # fmt: skip
    ack, in_progress, waiting, ready = plan(store, created, *changes)
    before = scrape()
    dispatcher = dispatcher_for(store, sms_sink, RecipientLimit(limit=2, window_s=1.0, hold_max=5))
    dispatcher.submit([ack, in_progress, waiting, ready])
    await asyncio.wait_for(dispatcher.wait_idle(), 10)

    texts = [s.fields["text"] for s in sms_sink.accepted]
    assert [s.fields["client_message_id"] for s in sms_sink.accepted] == [
        ack.notification_id, in_progress.notification_id, ready.notification_id,
    ]  # fmt: skip
    assert "«Ответ готов»" in texts[-1]  # the citizen learns the current status
    assert sms_sink.accepted[2].accepted_at - sms_sink.accepted[0].accepted_at >= 0.9
    # Nothing vanished silently: the replaced notice says by what, the held one why it waited.
    assert store.state(waiting.notification_id) == (DeliveryState.SUPERSEDED, 0)
    assert store.state(ready.notification_id) == (DeliveryState.SENT, 1)
    reasons = decisions(store)
    [(kind, why)] = reasons[waiting.notification_id]
    assert kind == "superseded" and ready.notification_id in why
    [(kind, why)] = reasons[ready.notification_id]
    assert kind == "held" and "2 notices per 1 s" in why
    after = scrape()

    def delta(series: str) -> float:
        name = f"casedesk_notify_notifications_{series}_total"
        return after.value(name, channel="sms") - before.value(name, channel="sms")

    assert (delta("held"), delta("superseded"), delta("sent")) == (1, 1, 3)


async def test_a_held_recipient_delays_only_its_own_notices(
    store: DeliveryStore, sms_sink: SmsSink, dispatcher_for
) -> None:
    first = plan(store, CaseStream("case-a", number="2026-0000501").created(citizen=sms_citizen()))
    second = plan(store, CaseStream("case-b", number="2026-0000502").created(citizen=sms_citizen(
        "+7 916 123-45-67")))  # fmt: skip
    other = plan(store, CaseStream("case-c", number="2026-0000503").created(
        citizen=sms_citizen("+79990000000")))  # fmt: skip
    dispatcher = dispatcher_for(store, sms_sink, RecipientLimit(limit=1, window_s=0.5, hold_max=5))
    dispatcher.submit(first + second + other)
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    at = {s.fields["client_message_id"]: s.accepted_at for s in sms_sink.accepted}
    a, b, c = (d[0].notification_id for d in (first, second, other))
    assert at[b] - at[a] >= 0.45  # the same phone, written differently: one window
    assert at[c] < at[b]  # another citizen is not held up
    assert store.state(b) == (DeliveryState.SENT, 1)  # a different case is delayed, not merged


async def test_beyond_the_cap_of_held_notices_they_are_suppressed_with_a_recorded_reason(
    store: DeliveryStore, sms_sink: SmsSink, dispatcher_for
) -> None:
    deliveries = [
        plan(store, CaseStream(f"case-f{i}", number=f"2026-000060{i}").created(
            citizen=sms_citizen()))[0]
        for i in range(3)
    ]  # fmt: skip
    parked = Parked()
    before = scrape()
    limit = RecipientLimit(limit=1, window_s=60, hold_max=1)
    dispatcher = dispatcher_for(store, sms_sink, limit, parked)
    dispatcher.submit(deliveries)
    sent, held, suppressed = (d.notification_id for d in deliveries)
    for _ in range(200):
        if store.state(suppressed) == (DeliveryState.SUPPRESSED, 0):
            break
        await asyncio.sleep(0.01)
    await dispatcher.stop(1)
    assert [s.fields["client_message_id"] for s in sms_sink.accepted] == [sent]
    assert store.state(sent) == (DeliveryState.SENT, 1)
    assert store.state(held) == (DeliveryState.HELD, 0)  # resumed after a restart
    assert held in {d.notification_id for d in store.pending()}
    assert store.state(suppressed) == (DeliveryState.SUPPRESSED, 0)
    [(kind, why)] = decisions(store)[suppressed]
    assert kind == "suppressed" and "1 held" in why
    assert parked.records == []  # a decision, not a failure: no dead letter
    name = "casedesk_notify_notifications_suppressed_total"
    assert scrape().value(name, channel="sms") - before.value(name, channel="sms") == 1

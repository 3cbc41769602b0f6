"""Case events whose personal fields are sealed (issue #18): notify opens what it sends with, on
a key owner of the test's own (a keyring on SQLite, its KEK from a file), and never lets a token
reach a citizen. An erased citizen gets nothing, recorded with the reason; a notify without a key
service dead-letters a sealed event (and does not start on a store written sealed); a key service
that cannot be reached holds the batch back."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import casedesk_notify.__main__ as notify_main
from casedesk.case.v1 import events_pb2
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_keys import (
    DataKey,
    Keyring,
    KeyUnavailable,
    LocalKeySource,
    SubjectId,
)
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import email_outlet, sms_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.deliveries import Delivery, DeliveryState
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.application.ports import CitizenErased, FieldOpener, KeysUnavailable
from casedesk_notify.application.sealing import card_field, open_delivery_now
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy, ReplyWindow
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.settings import NotifySettings
from casedesk_notify.testing import events
from casedesk_notify.testing.sealed_events import sealed
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_notify.wire.sealed import PlainFields, SealedFields
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Status
from casedesk_vocabulary.sealed_fields import (
    TOKEN_PREFIX,
)

DOMAIN = "notify.casedesk.test"
ANSWER = "Код отправлен повторно, проверьте телефон."
PHONE = "+79161234567"
ADDRESS = "ivan@example.org"
MESSAGE_ID = "<m-1@mail.example.org>"
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, rng=random.Random(5))
CHANNELS = (DeliveryChannel.EMAIL, DeliveryChannel.SMS)


@dataclass
class Keys:
    keyring: Keyring
    source: LocalKeySource
    subject: SubjectId

    def key(self) -> DataKey:
        return self.keyring.current_key(self.subject)

    def erase(self) -> None:
        self.keyring.erase(self.subject, "privacy.officer", "request 2026-17")


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[Keys]:
    (tmp_path / "kek").mkdir()
    kek = SecretFileKekProvider(tmp_path / "kek", create=True)
    keyring = Keyring(SqliteKeyStore(tmp_path / "keys.sqlite"), kek)
    yield Keys(keyring, LocalKeySource(keyring), SubjectId(os.urandom(16)))
    keyring.store.close()
    kek.close()


def email_case_story(case: CaseStream) -> list[events_pb2.CaseEvent]:
    """An e-mail case of a citizen without a portal account, answered: the acknowledgement and
    the answer (which carries the specialist's reply) by e-mail and SMS."""
    return [
        events.created_by_email(case, MESSAGE_ID, ADDRESS, "Вход на портал"),
        case.commented(body=ANSWER),
        case.status_changed(to=Status.ANSWER_READY),
    ]


def planner(store: DeliveryStore, opener: FieldOpener | None) -> BatchPlanner:
    return BatchPlanner(
        CaseEventDecoder(NoDeadlines(), opener), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), CHANNELS, store.card, journal=journal,
        window=ReplyWindow(120), load_deferred=store.deferred, opener=opener,
    )  # fmt: skip


async def plan_and_commit(store: DeliveryStore, opener: FieldOpener, records: list[Any]):
    planning = planner(store, opener)
    await planning.prepare(records)
    planned = planning.plan(records)
    return planned, store.commit_batch(planned.changes)


def records_of(story: list[events_pb2.CaseEvent], first: int = 0) -> list[events.Record]:
    return [events.record(event, first + i) for i, event in enumerate(story)]


def journal_of(store: DeliveryStore) -> list[journal_pb2.NotificationEvent]:
    return [journal_pb2.NotificationEvent.FromString(e.value) for _, e in store.journal_batch(999)]


async def _never_parked(source: Any, error: str) -> bool:
    raise AssertionError(f"nothing should be dead-lettered here: {error}")


async def send(
    store: DeliveryStore,
    deliveries: list[Delivery],
    smtp: SmtpSink,
    sms: SmsSink,
    opener: FieldOpener | None = None,
    retry: RetryPolicy = RETRY,
) -> None:
    email = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=5))
    gateway = HttpSmsSender(SmsGatewayConfig(url=sms.url, token="gateway-token"))
    outlets = {
        DeliveryChannel.EMAIL: email_outlet(email, DOMAIN, TokenBucket(100, 100), 2),
        DeliveryChannel.SMS: sms_outlet(gateway, TokenBucket(100, 100), 2),
    }
    dispatcher = Dispatcher(store, outlets, retry, _never_parked, journal=journal, opener=opener)
    try:
        dispatcher.submit(deliveries)
        await asyncio.wait_for(dispatcher.wait_idle(), 15)
        await dispatcher.stop(1)
    finally:
        await email.close()
        await gateway.close()


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def stored_text(store: DeliveryStore) -> str:
    """Everything notify's store holds, as text (cards, deliveries, the journal outbox)."""
    db = store._db
    dumped = []
    for table in ("case_cards", "deliveries", "journal_outbox"):
        for row in db.execute(f"SELECT * FROM {table}"):
            dumped += [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row
            ]
    return "\n".join(dumped)


async def test_a_sealed_case_is_answered_in_clear_by_email_and_sms(
    keys: Keys, store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    case = CaseStream("case-sealed", number="2026-0000101")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    assert TOKEN_PREFIX in story[0].created.citizen.mobile_phone  # the test feeds tokens
    opener = SealedFields(keys.source)
    _, created = await plan_and_commit(store, opener, records_of(story))
    # Stored sealed with the citizen's key, bound to the delivery; opened at the attempt.
    assert all(d.recipient.startswith(TOKEN_PREFIX) and d.sealed_by for d in created)
    opened = [await open_delivery_now(d, opener) for d in created]
    assert {d.recipient for d in opened} == {PHONE, ADDRESS}
    await send(store, created, smtp_sink, sms_sink, opener)

    acknowledgement, answer = smtp_sink.snapshot()
    for message in (acknowledgement, answer):
        assert message.recipients == (ADDRESS,)
        assert message.message["In-Reply-To"] == MESSAGE_ID  # threaded: the opened Message-ID
        assert message.message["Subject"].startswith("Re: Вход на портал [")
        assert TOKEN_PREFIX not in message.raw.decode("utf-8", "replace")
    assert ANSWER in answer.body("plain")
    texts = [sms.fields["text"] for sms in sms_sink.accepted]
    assert {sms.fields["to"] for sms in sms_sink.accepted} == {PHONE}
    assert len(texts) == 2 and not any(TOKEN_PREFIX in text for text in texts)
    assert any("2026-0000101" in text for text in texts)
    assert any(ANSWER in text for text in texts)  # the reply, opened, in the answer's SMS
    sent = [e for e in journal_of(store) if e.WhichOneof("payload") == "sent"]
    assert len(sent) == 4


async def test_plain_events_are_answered_as_before_with_or_without_a_key_service(
    keys: Keys, store: DeliveryStore, tmp_path: Path
) -> None:
    for opener, name in ((SealedFields(keys.source), "a"), (PlainFields(), "b")):
        case = CaseStream(f"case-plain-{name}", number=f"2026-000020{name}")
        _, created = await plan_and_commit(store, opener, records_of(email_case_story(case)))
        assert {d.recipient for d in created} == {PHONE, ADDRESS}
        [answer] = [
            d for d in created
            if d.channel is DeliveryChannel.EMAIL and d.message.kind == "status_changed"
        ]  # fmt: skip
        assert ANSWER in answer.message.text
        assert answer.message.in_reply_to == MESSAGE_ID


async def test_an_erased_citizen_gets_nothing_and_the_notices_say_why(
    keys: Keys, store: DeliveryStore
) -> None:
    case = CaseStream("case-erased", number="2026-0000301")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    keys.erase()
    planned, created = await plan_and_commit(store, SealedFields(keys.source), records_of(story))

    assert created == [] and planned.poisoned == []  # nothing to send, nothing dead-lettered
    assert planned.changes.offsets == {(events.TOPIC, 0): 3}  # read past, not retried
    kinds = [e.WhichOneof("payload") for e in journal_of(store)]
    assert kinds == ["suppressed"] * 6  # acknowledgement, reply and answer, e-mail and SMS each
    for entry in journal_of(store):
        assert entry.suppressed.reason == "citizen erased"
    for delivery, _, reason in planned.changes.suppressed:
        assert store.state(delivery.notification_id) == (DeliveryState.SUPPRESSED, 0)
        assert reason == "citizen erased"
    card = store.card("case-erased")
    assert card is not None and card.email_thread is None
    assert PHONE not in stored_text(store) and ADDRESS not in stored_text(store)


async def test_an_erasure_after_the_case_was_read_stops_its_later_notices(
    keys: Keys, store: DeliveryStore
) -> None:
    case = CaseStream("case-later", number="2026-0000401")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    opener = SealedFields(keys.source)
    _, first = await plan_and_commit(store, opener, records_of(story[:1]))
    opened = [await open_delivery_now(d, opener) for d in first]
    assert {d.recipient for d in opened} == {PHONE, ADDRESS}  # the acknowledgement, sealed
    keys.erase()
    later = [story[1], story[2], case.status_changed(to=Status.CLOSED)]
    planned, created = await plan_and_commit(store, SealedFields(keys.source), records_of(later, 1))
    assert created == [] and planned.poisoned == []
    assert {reason for _, _, reason in planned.changes.suppressed} == {"citizen erased"}
    card = store.card("case-later")
    assert card is not None and PHONE not in (card.contacts.phone, card.contacts.email)
    assert card.contacts.phone == "[erased]" and card.email_thread is None


async def test_without_a_key_service_a_sealed_event_is_dead_lettered_with_the_setting(
    keys: Keys, store: DeliveryStore
) -> None:
    case = CaseStream("case-nokeys", number="2026-0000501")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    parked: list[tuple[Any, Exception]] = []

    async def park(record: Any, error: Exception) -> bool:
        parked.append((record, error))
        return True

    dispatcher = Dispatcher(store, {}, RETRY, _never_parked, journal=journal)
    handler = BatchHandler(
        store, planner(store, PlainFields()), dispatcher, park, journal_written=lambda: None
    )
    offsets = await handler.handle(records_of(story))
    assert offsets == {(events.TOPIC, 0): 3}
    # The Created and the reply carry tokens notify must open: both parked, never sent.
    assert [record.offset for record, _ in parked] == [0, 1]
    for _, error in parked:
        assert "CASEDESK_KEY_SERVICE_ADDRESS" in str(error)
        assert "no key service is configured" in str(error)
    assert store.pending() == []
    assert TOKEN_PREFIX not in stored_text(store)


class FlakyKeys:
    """A key source that cannot be reached for its first `failures` calls."""

    def __init__(self, source: LocalKeySource, failures: int) -> None:
        self._source = source
        self.failures = failures
        self.calls = 0

    async def current_key(self, subject: SubjectId) -> DataKey:
        return await self._source.current_key(subject)

    async def key(self, subject: SubjectId, generation: int) -> DataKey:
        self.calls += 1
        if self.calls <= self.failures:
            raise KeyUnavailable("the key service cannot be reached: UNAVAILABLE")
        return await self._source.key(subject, generation)


async def test_an_unreachable_key_service_holds_the_batch_back_until_it_answers(
    keys: Keys, store: DeliveryStore
) -> None:
    case = CaseStream("case-flaky", number="2026-0000601")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    flaky = FlakyKeys(keys.source, failures=3)
    with pytest.raises(KeysUnavailable):  # one try: nothing planned, nothing committed
        await planner(store, SealedFields(flaky)).prepare(records_of(story))
    assert store.stored_offsets(events.TOPIC) == {}

    async def park(record: Any, error: Exception) -> bool:
        raise AssertionError(f"a temporary failure is not poison: {error}")

    dispatcher = Dispatcher(store, {}, RETRY, _never_parked, journal=journal)
    handler = BatchHandler(
        store, planner(store, SealedFields(flaky)), dispatcher, park,
        journal_written=lambda: None, keys_retry_s=0.01,
    )  # fmt: skip
    started = time.monotonic()
    offsets = await asyncio.wait_for(handler.handle(records_of(story)), 10)
    assert flaky.calls > 3 and time.monotonic() - started >= 0.02  # waited, tried again
    assert offsets == {(events.TOPIC, 0): 3}
    assert store.stored_offsets(events.TOPIC) == {0: 3}
    opener = SealedFields(keys.source)
    recipients = {(await open_delivery_now(d, opener)).recipient for d in store.pending()}
    assert recipients == {PHONE, ADDRESS}
    await dispatcher.stop(0.1)


# -- notify's own store ------------------------------------------------------------------------

# What the raw file must not hold of the citizen: his phone (also its digits alone), his e-mail
# address, his subject, his message's Message-ID and the specialist's answer.
PERSONAL = (PHONE, PHONE[2:], ADDRESS, "Вход на портал", MESSAGE_ID, ANSWER)


def file_bytes(store: DeliveryStore, path: Path) -> bytes:
    """The store's files as they are on disk: the database, its WAL (every page version written
    since the last checkpoint: rows since overwritten or deleted are still there) and any
    rollback journal. Read before any checkpoint or VACUUM, the strictest look."""
    return b"".join(
        candidate.read_bytes()
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-journal"))
        if candidate.exists()
    )


def compacted_bytes(store: DeliveryStore, path: Path) -> bytes:
    """The same after the WAL was checkpointed into the database and VACUUM rewrote it."""
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store._db.execute("VACUUM")
    return file_bytes(store, path)


def found(raw: bytes) -> list[str]:
    return [text for text in PERSONAL if text.encode() in raw]


async def test_the_store_file_keeps_none_of_a_sealed_citizens_data_in_clear(
    keys: Keys, tmp_path: Path, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    path = tmp_path / "sealed.sqlite3"
    store = DeliveryStore(path)
    try:
        case = CaseStream("case-at-rest", number="2026-0000701")
        story = [sealed(event, keys.key()) for event in email_case_story(case)]
        opener = SealedFields(keys.source)
        # Two batches: the reply's notices wait in the store (deferred) and are merged from there
        # into the answer's (opened to journal their masked recipient).
        await plan_and_commit(store, opener, records_of(story[:2]))
        await plan_and_commit(store, opener, records_of(story[2:], 2))
        pending = store.pending()
        assert len(pending) == 4 and all(d.sealed_by for d in pending)  # ack + answer, 2 ways
        assert found(file_bytes(store, path)) == []  # planned, nothing sent yet
        card = store.card("case-at-rest")
        assert card is not None and card.email_thread is not None
        for value in (card.contacts.phone, card.contacts.email, card.email_thread.message_id,
                      card.email_thread.address, card.email_thread.subject):  # fmt: skip
            assert value.startswith(TOKEN_PREFIX)

        await send(store, pending, smtp_sink, sms_sink, opener)
        assert len(smtp_sink.snapshot()) == 2 and len(sms_sink.accepted) == 2  # sent in clear
        assert any(ANSWER in sms.fields["text"] for sms in sms_sink.accepted)
        assert found(file_bytes(store, path)) == []
        assert found(compacted_bytes(store, path)) == []
        rows = store._db.execute("SELECT state, recipient FROM deliveries").fetchall()
        assert {state for state, _ in rows} == {"sent", "merged"}
        # Finished deliveries keep the masked recipient, the merged ones too (opened to mask).
        assert all(TOKEN_PREFIX not in recipient and "*" in recipient for _, recipient in rows)
    finally:
        store.close()


async def test_the_same_check_finds_plain_events_data_which_is_kept_in_clear(
    keys: Keys, tmp_path: Path
) -> None:
    """Without sealed events (or without a key service) the store keeps its columns in clear,
    as before: the control that the byte check above can fail."""
    path = tmp_path / "plain.sqlite3"
    store = DeliveryStore(path)
    try:
        case = CaseStream("case-plain-at-rest", number="2026-0000801")
        for opener in (SealedFields(keys.source), PlainFields()):
            await plan_and_commit(store, opener, records_of(email_case_story(case)))
        assert {d.recipient for d in store.pending()} == {PHONE, ADDRESS}
        assert all(not d.sealed_by for d in store.pending())
        assert {PHONE, ADDRESS, ANSWER} <= set(found(file_bytes(store, path)))
        card = store.card("case-plain-at-rest")
        assert card is not None and card.contacts.phone == PHONE and not card.sealed_by
    finally:
        store.close()


async def test_a_notice_pending_at_the_erasure_is_not_sent_and_says_why(
    keys: Keys, store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    case = CaseStream("case-pending-erased", number="2026-0000901")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    opener = SealedFields(keys.source)
    _, created = await plan_and_commit(store, opener, records_of(story[:1]))
    assert len(created) == 2  # the acknowledgement by e-mail and SMS, pending
    keys.erase()
    # As after a restart: what the store holds, sealed, opened only at the attempt.
    await send(store, store.pending(), smtp_sink, sms_sink, opener)

    assert smtp_sink.snapshot() == [] and sms_sink.accepted == []
    for delivery in created:
        assert store.state(delivery.notification_id) == (DeliveryState.SUPPRESSED, 0)
    suppressed = [e for e in journal_of(store) if e.WhichOneof("payload") == "suppressed"]
    assert [e.suppressed.reason for e in suppressed] == ["citizen erased"] * 2
    assert [e for e in journal_of(store) if e.WhichOneof("payload") == "failed"] == []
    rows = store._db.execute(
        "SELECT recipient, subject, body_text, body_html, source_value FROM deliveries"
    ).fetchall()
    assert all(row[1:] == (None, None, None, None) for row in rows)
    assert all(TOKEN_PREFIX not in row[0] for row in rows)
    # The card, never touched by a later event, keeps only tokens nobody can open any more.
    card = store.card("case-pending-erased")
    assert card is not None and card.contacts.phone.startswith(TOKEN_PREFIX)
    with pytest.raises(CitizenErased):
        await opener.open_now(card.case_id, card_field("phone"), card.contacts.phone)
    assert PHONE not in stored_text(store) and ADDRESS not in stored_text(store)


async def test_a_sealed_delivery_without_a_key_service_is_dead_lettered_never_sent(
    keys: Keys, store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    """A store written with a key service, read by a notify started without one."""
    case = CaseStream("case-no-keys-later", number="2026-0001001")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    await plan_and_commit(store, SealedFields(keys.source), records_of(story[:1]))
    parked: list[str] = []

    async def park(source: Any, error: str) -> bool:
        parked.append(error)
        return True

    dispatcher = Dispatcher(store, {}, RETRY, park, journal=journal, opener=PlainFields())
    dispatcher.submit(store.pending())
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    assert len(parked) == 2 and all("no key service is configured" in e for e in parked)
    assert store.pending() == []


async def test_notify_refuses_to_start_without_a_key_service_on_a_store_written_sealed(
    keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The start guard: a store written by a notify with a key service is not opened by one
    without (its deliveries could never be sent); a store of plain events is."""
    plain = DeliveryStore(tmp_path / "plain.sqlite3", synchronous="NORMAL")
    await plan_and_commit(plain, PlainFields(), records_of(email_case_story(CaseStream("case-p"))))
    assert plain.pending() and not plain.holds_sealed()
    plain.close()
    path = tmp_path / "sealed.sqlite3"
    written = DeliveryStore(path, synchronous="NORMAL")
    story = [sealed(event, keys.key()) for event in email_case_story(CaseStream("case-s"))]
    await plan_and_commit(written, SealedFields(keys.source), records_of(story))
    assert written.holds_sealed()
    written.close()

    settings = NotifySettings(smtp_host="127.0.0.1", store_path=path, key_service_address="")
    assert await asyncio.wait_for(notify_main.run(settings), 10) == 2
    refusal = capsys.readouterr().err
    assert "CASEDESK_KEY_SERVICE_ADDRESS is not set" in refusal and str(path) in refusal


async def test_an_erasure_during_a_retry_wait_stops_the_next_attempt(
    keys: Keys, store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    """The lane holds the delivery opened between attempts: it is opened again before each one,
    so an erasure while it waits out a backoff (or the recipient limit) stops it too."""
    case = CaseStream("case-erased-in-backoff", number="2026-0001101")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    opener = SealedFields(keys.source)
    _, created = await plan_and_commit(store, opener, records_of(story[:1]))
    smtp_sink.fail_next(1)
    sms_sink.fail_next(1)
    slow = RetryPolicy(max_attempts=5, base_delay_s=2.0, max_delay_s=2.0, rng=random.Random(1))
    sending = asyncio.create_task(send(store, created, smtp_sink, sms_sink, opener, slow))
    deadline = time.monotonic() + 10
    while any(store.state(d.notification_id) != (DeliveryState.PENDING, 1) for d in created):
        assert time.monotonic() < deadline, "the first attempts did not fail in time"
        await asyncio.sleep(0.02)
    keys.erase()  # while both wait 1-2 s for their second attempt
    await sending

    assert smtp_sink.snapshot() == [] and sms_sink.accepted == []
    for delivery in created:
        assert store.state(delivery.notification_id) == (DeliveryState.SUPPRESSED, 1)
    suppressed = [e for e in journal_of(store) if e.WhichOneof("payload") == "suppressed"]
    assert [e.suppressed.reason for e in suppressed] == ["citizen erased"] * 2


async def test_a_sealed_card_read_without_a_key_service_sends_no_token(
    keys: Keys, store: DeliveryStore
) -> None:
    """A later event (no token of its own) of a case whose card was stored sealed, read by a
    notify started without a key service: dead-lettered naming the setting, nothing planned."""
    case = CaseStream("case-card-no-keys", number="2026-0001201")
    story = [sealed(event, keys.key()) for event in email_case_story(case)]
    await plan_and_commit(store, SealedFields(keys.source), records_of(story[:1]))
    later = records_of([case.status_changed(to=Status.IN_PROGRESS)], 1)
    plain = planner(store, None)  # as __main__ wires a notify without CASEDESK_KEY_SERVICE_ADDRESS
    await plain.prepare(later)
    planned = plain.plan(later)
    assert planned.changes.deliveries == [] and planned.changes.cards == {}
    [(_, why)] = planned.poisoned
    assert "CASEDESK_KEY_SERVICE_ADDRESS" in str(why)

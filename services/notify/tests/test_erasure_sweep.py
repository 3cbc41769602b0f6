"""Notify forgets an erased citizen's rows (issue #18, application.erasures): his cards lose their
contacts and ways back, his finished deliveries their masked recipient, his open ones are
finished `suppressed` at once; statuses, channels, states and times stay; another citizen's rows
are untouched; applying it again changes nothing; a newer generation of his key is not touched;
what is journaled of his cases goes out without a recipient. On a key owner of the test's own."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from casedesk.case.v1 import events_pb2
from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_keys import DataKey, Keyring, LocalKeySource, SubjectId, header_of
from casedesk_keys.adapters.secret_file_kek import SecretFileKekProvider
from casedesk_keys.adapters.sqlite_store import SqliteKeyStore
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.outlets import email_outlet, sms_outlet
from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.senders.sms_gateway import HttpSmsSender, SmsGatewayConfig
from casedesk_notify.adapters.senders.smtp import SmtpConfig, SmtpEmailSender
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import Delivery, DeliveryState
from casedesk_notify.application.dispatcher import Dispatcher
from casedesk_notify.application.erasures import Erasure, ErasureSweep, Forgotten
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy, ReplyWindow
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_notify.testing import events
from casedesk_notify.testing.sealed_events import sealed
from casedesk_notify.testing.sinks import SmsSink, SmtpSink
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_notify.wire.sealed import SealedFields
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Status
from casedesk_vocabulary.sealed_fields import TOKEN_PREFIX

PHONE = "+79161234567"
ADDRESS = "ivan@example.org"
MESSAGE_ID = "<m-1@mail.example.org>"
CHANNELS = (DeliveryChannel.EMAIL, DeliveryChannel.SMS)
RETRY = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, rng=random.Random(5))


@dataclass
class Owner:
    """The key owner: a keyring on SQLite, its KEK from a file."""

    keyring: Keyring
    source: LocalKeySource

    def key(self, subject: SubjectId) -> DataKey:
        return self.keyring.current_key(subject)

    def erase(self, subject: SubjectId) -> Erasure:
        tombstone = self.keyring.erase(subject, "privacy.officer", "request 2026-18")
        return Erasure(str(subject), tombstone.generation)


@pytest.fixture
def owner(tmp_path: Path) -> Iterator[Owner]:
    (tmp_path / "kek").mkdir()
    kek = SecretFileKekProvider(tmp_path / "kek", create=True)
    keyring = Keyring(SqliteKeyStore(tmp_path / "keys.sqlite"), kek)
    yield Owner(keyring, LocalKeySource(keyring))
    keyring.store.close()
    kek.close()


def story(case: CaseStream, key: DataKey) -> list[events_pb2.CaseEvent]:
    """An e-mail case without a portal account, sealed: the acknowledgement (e-mail and SMS),
    then «Ответ готов» (e-mail and SMS)."""
    return [
        sealed(event, key)
        for event in (
            events.created_by_email(case, MESSAGE_ID, ADDRESS, "Вход на портал"),
            case.status_changed(to=Status.ANSWER_READY),
        )
    ]


async def plan_and_commit(
    store: DeliveryStore, opener: SealedFields, batch: list[events_pb2.CaseEvent], first: int
) -> list[Delivery]:
    planning = BatchPlanner(
        CaseEventDecoder(NoDeadlines(), opener), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), CHANNELS, store.card, journal=journal,
        window=ReplyWindow(120), load_deferred=store.deferred, opener=opener,
    )  # fmt: skip
    records = [events.record(event, first + i) for i, event in enumerate(batch)]
    await planning.prepare(records)
    return store.commit_batch(planning.plan(records).changes)


def dispatcher_for(
    store: DeliveryStore, smtp: SmtpSink, sms: SmsSink, opener: SealedFields, retry: RetryPolicy
) -> tuple[Dispatcher, list[Any]]:
    email = SmtpEmailSender(SmtpConfig(host="127.0.0.1", port=smtp.port, timeout_s=5))
    gateway = HttpSmsSender(SmsGatewayConfig(url=sms.url, token="gateway-token"))
    outlets = {
        DeliveryChannel.EMAIL: email_outlet(email, "notify.test", TokenBucket(100, 100), 2),
        DeliveryChannel.SMS: sms_outlet(gateway, TokenBucket(100, 100), 2),
    }

    async def never_parked(source: Any, error: str) -> bool:
        raise AssertionError(f"nothing should be dead-lettered here: {error}")

    dispatcher = Dispatcher(store, outlets, retry, never_parked, journal=journal, opener=opener)
    return dispatcher, [email, gateway]


async def send(store: DeliveryStore, deliveries: list[Delivery], *sinks_and_opener: Any) -> None:
    dispatcher, senders = dispatcher_for(store, *sinks_and_opener, RETRY)
    dispatcher.submit(deliveries)
    await asyncio.wait_for(dispatcher.wait_idle(), 15)
    await dispatcher.stop(1)
    for sender in senders:
        await sender.close()


def journal_of(store: DeliveryStore) -> list[journal_pb2.NotificationEvent]:
    return [journal_pb2.NotificationEvent.FromString(e.value) for _, e in store.journal_batch(999)]


def rows(store: DeliveryStore, case_id: str) -> list[dict[str, Any]]:
    cursor = store._db.execute(
        "SELECT * FROM deliveries WHERE case_id = ? ORDER BY seq", (case_id,)
    )
    return [dict(row) for row in cursor]


def subjects_in(store: DeliveryStore) -> set[str]:
    """The subjects of every token the store's cards and deliveries still hold."""
    found = set()
    for table in ("case_cards", "deliveries"):
        for row in store._db.execute(f"SELECT * FROM {table}"):
            for value in row:
                if isinstance(value, str) and value.startswith(TOKEN_PREFIX):
                    found.add(str(header_of(value).subject))
    return found


async def test_an_erasure_blanks_his_rows_keeps_the_counts_and_leaves_others_alone(
    owner: Owner, store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    a, b = SubjectId(os.urandom(16)), SubjectId(os.urandom(16))
    case_a = CaseStream("case-a", number="2026-0001801")
    case_b = CaseStream("case-b", number="2026-0001802")
    story_a, story_b = story(case_a, owner.key(a)), story(case_b, owner.key(b))
    opener = SealedFields(owner.source)
    acks = await plan_and_commit(store, opener, [story_a[0], story_b[0]], 0)
    await send(store, acks, smtp_sink, sms_sink, opener)  # the acknowledgements: sent
    answers = await plan_and_commit(store, opener, [story_a[1], story_b[1]], 2)
    assert len(answers) == 4  # pending: «Ответ готов» to both, e-mail and SMS
    assert subjects_in(store) == {str(a), str(b)}
    sent_before = {r["notification_id"]: r for r in rows(store, "case-a") if r["state"] == "sent"}
    journaled_before = len(journal_of(store))

    sweep = ErasureSweep(store, journal)
    forgotten = sweep.apply([owner.erase(a)], position=7)

    assert forgotten.cards == 1 and forgotten.deliveries == 2 and len(forgotten.suppressed) == 2
    assert subjects_in(store) == {str(b)}  # none of his tokens is left, all of B's are
    card = store.card("case-a")
    assert card is not None
    assert (card.contacts.phone, card.contacts.email) == ("[erased]", "[erased]")
    assert card.email_thread is None and card.social_thread is None
    assert (card.number, card.status) == ("2026-0001801", Status.ANSWER_READY)  # kept
    for row in rows(store, "case-a"):
        assert row["recipient"] == "[erased]"
        assert all(row[c] is None for c in ("subject", "body_text", "body_html", "source_value"))
        assert row["finished_at"] and row["channel"] in ("email", "sms")
        if row["notification_id"] in sent_before:  # the facts of a send stay
            before = sent_before[row["notification_id"]]
            assert (row["state"], row["finished_at"], row["attempts"]) == (
                "sent", before["finished_at"], before["attempts"],
            )  # fmt: skip
        else:
            assert (row["state"], row["last_error"]) == ("suppressed", "citizen erased")
    assert {r["state"] for r in rows(store, "case-b")} == {"sent", "pending"}
    assert {d.case_id for d in store.pending()} == {"case-b"}
    card_b = store.card("case-b")
    assert card_b is not None and card_b.contacts.phone.startswith(TOKEN_PREFIX)
    assert store.erasure_position() == 7

    entries = journal_of(store)
    added = entries[journaled_before:]
    assert [(e.WhichOneof("payload"), e.suppressed.reason) for e in added] == [
        ("suppressed", "citizen erased")
    ] * 2
    for entry in entries:  # what goes out of his cases now names no recipient, masked or not
        if entry.meta.case_id == "case-a":
            assert entry.recipient_masked == "[erased]"
        else:
            assert entry.recipient_masked not in ("", "[erased]")

    assert sweep.apply([owner.erase(a)], position=7) == Forgotten()  # again: nothing changes
    assert len(journal_of(store)) == len(entries)


async def test_a_later_generation_of_his_key_is_not_touched(
    owner: Owner, store: DeliveryStore
) -> None:
    """He came back with a new case of his own (the key owner reopened his subject): catching
    up on his first erasure must not blank what the new generation sealed."""
    subject = SubjectId(os.urandom(16))
    opener = SealedFields(owner.source)
    first = CaseStream("case-old", number="2026-0001811")
    await plan_and_commit(store, opener, story(first, owner.key(subject))[:1], 0)
    erasure = owner.erase(subject)
    newer = owner.keyring.reopen(subject)
    assert newer.generation == erasure.generation + 1
    second = CaseStream("case-new", number="2026-0001812")
    await plan_and_commit(store, opener, story(second, newer)[:1], 1)

    forgotten = ErasureSweep(store, journal).apply([erasure], position=3)
    assert forgotten.cards == 1 and len(forgotten.suppressed) == 2
    old, new = store.card("case-old"), store.card("case-new")
    assert old is not None and old.contacts.phone == "[erased]"
    assert new is not None and new.contacts.phone.startswith(TOKEN_PREFIX)
    assert {d.case_id for d in store.pending()} == {"case-new"}


async def test_a_card_planned_with_a_key_fetched_before_the_erasure_is_blanked_as_it_commits(
    owner: Owner, store: DeliveryStore
) -> None:
    subject = SubjectId(os.urandom(16))
    case = CaseStream("case-race", number="2026-0001821")
    opener = SealedFields(owner.source)
    planning = BatchPlanner(
        CaseEventDecoder(NoDeadlines(), opener), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), CHANNELS, store.card, journal=journal,
        window=ReplyWindow(120), load_deferred=store.deferred, opener=opener,
    )  # fmt: skip
    records = [events.record(story(case, owner.key(subject))[0], 0)]
    await planning.prepare(records)  # his key fetched ...
    ErasureSweep(store, journal).apply([owner.erase(subject)], position=1)  # ... then erased
    store.commit_batch(planning.plan(records).changes)
    card = store.card("case-race")
    assert card is not None and card.contacts.phone == "[erased]" and card.email_thread is None


async def test_an_attempt_under_way_is_left_to_its_verdict_which_is_blanked(
    owner: Owner, store: DeliveryStore
) -> None:
    subject = SubjectId(os.urandom(16))
    case = CaseStream("case-in-flight", number="2026-0001831")
    opener = SealedFields(owner.source)
    created = await plan_and_commit(store, opener, story(case, owner.key(subject))[:1], 0)
    email = next(d for d in created if d.channel is DeliveryChannel.EMAIL)
    forgotten = ErasureSweep(store, journal, sending=lambda: {email.notification_id}).apply(
        [owner.erase(subject)], position=1
    )
    assert len(forgotten.suppressed) == 1  # the SMS; the e-mail is being sent
    assert store.state(email.notification_id) == (DeliveryState.PENDING, 0)
    journaled = len(journal_of(store))
    # The provider accepted it: the verdict commits, without even the masked recipient.
    entry = journal.sent(email, 1, "m-1")
    store.record_final(email, DeliveryState.SENT, 1, datetime.now(UTC), (entry,))
    [row] = [r for r in rows(store, "case-in-flight") if r["channel"] == "email"]
    assert (row["state"], row["recipient"]) == ("sent", "[erased]")
    [sent] = journal_of(store)[journaled:]
    assert sent.WhichOneof("payload") == "sent" and sent.recipient_masked == "[erased]"


async def test_a_notice_waiting_in_its_lane_is_dropped_and_journaled_once(
    owner: Owner, store: DeliveryStore, smtp_sink: SmtpSink, sms_sink: SmsSink
) -> None:
    """Waiting out a backoff when the erasure is applied: finished at once (not at its next
    attempt), the lane drops it, and the journal says «citizen erased» once per notice."""
    subject = SubjectId(os.urandom(16))
    case = CaseStream("case-backoff", number="2026-0001841")
    opener = SealedFields(owner.source)
    created = await plan_and_commit(store, opener, story(case, owner.key(subject))[:1], 0)
    smtp_sink.fail_next(1)
    sms_sink.fail_next(1)
    slow = RetryPolicy(max_attempts=5, base_delay_s=3.0, max_delay_s=3.0, rng=random.Random(1))
    dispatcher, senders = dispatcher_for(store, smtp_sink, sms_sink, opener, slow)
    dispatcher.submit(created)
    deadline = time.monotonic() + 10
    while any(store.state(d.notification_id) != (DeliveryState.PENDING, 1) for d in created):
        assert time.monotonic() < deadline, "the first attempts did not fail in time"
        await asyncio.sleep(0.02)
    assert dispatcher.sending() == frozenset()  # both wait out their backoff
    sweep = ErasureSweep(
        store, journal, sending=dispatcher.sending, finished=dispatcher.finished_elsewhere
    )
    forgotten = sweep.apply([owner.erase(subject)], position=1)
    assert len(forgotten.suppressed) == 2
    for delivery in created:  # at once, not after the backoff
        assert store.state(delivery.notification_id) == (DeliveryState.SUPPRESSED, 1)
    await asyncio.wait_for(dispatcher.wait_idle(), 10)
    await dispatcher.stop(1)
    for sender in senders:
        await sender.close()
    assert smtp_sink.snapshot() == [] and sms_sink.accepted == []
    suppressed = [e for e in journal_of(store) if e.WhichOneof("payload") == "suppressed"]
    assert [e.suppressed.reason for e in suppressed] == ["citizen erased"] * 2


async def test_the_position_survives_a_restart_and_plain_cards_are_not_touched(
    owner: Owner, tmp_path: Path
) -> None:
    path = tmp_path / "restart.sqlite3"
    store = DeliveryStore(path)
    try:
        assert ErasureSweep(store, journal).resume_after() == 0  # never applied: from the start
        plain = CaseStream("case-plain", number="2026-0001851")
        event = events.created_by_email(plain, MESSAGE_ID, ADDRESS)
        await plan_and_commit(store, SealedFields(owner.source), [event], 0)
        subject = SubjectId(os.urandom(16))
        owner.key(subject)
        assert not ErasureSweep(store, journal).apply([owner.erase(subject)], position=42)
    finally:
        store.close()
    reopened = DeliveryStore(path)
    try:
        assert ErasureSweep(reopened, journal).resume_after() == 42
        card = reopened.card("case-plain")
        assert card is not None and card.contacts.email == ADDRESS  # no key: not his to blank
    finally:
        reopened.close()

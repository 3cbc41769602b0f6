"""Planning a consumed batch and committing it: the exactly-once bookkeeping."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from casedesk.notification.v1 import events_pb2 as journal_pb2
from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.deliveries import DeliveryState
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.domain.identity import notification_id
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.case_events import CaseStream
from casedesk_vocabulary.enums import Status


def planner_for(
    store: DeliveryStore,
    catalog: TemplateCatalog,
    channels=(DeliveryChannel.EMAIL, DeliveryChannel.SMS),
) -> BatchPlanner:
    return BatchPlanner(
        CaseEventDecoder(NoDeadlines()),
        catalog,
        NotifyPolicy(),
        channels,
        store.card,
        journal=journal,
    )


def a_case_story(case_id: str = "case-1", first_offset: int = 0) -> list[events.Record]:
    case = CaseStream(case_id, number="2026-0000001")
    story = [
        case.created(),
        case.status_changed(to=Status.IN_PROGRESS),
        case.status_changed(to=Status.ANSWER_READY),
    ]
    return [events.record(event, first_offset + i) for i, event in enumerate(story)]


def journal_stages(store: DeliveryStore) -> list[str]:
    stages = []
    for _, entry in store.journal_batch(1000):
        event = journal_pb2.NotificationEvent.FromString(entry.value)
        stages.append(event.WhichOneof("payload"))
    return stages


def test_a_batch_commits_cards_deliveries_journal_and_offset_together(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    planned = planner_for(store, catalog).plan(a_case_story())
    created = store.commit_batch(planned.changes)
    assert [(d.channel, d.message.template) for d in created] == [
        (DeliveryChannel.EMAIL, "acknowledgement@v2"), (DeliveryChannel.SMS, "acknowledgement@v2"),
        (DeliveryChannel.EMAIL, "status_changed@v2"), (DeliveryChannel.SMS, "status_changed@v2"),
        (DeliveryChannel.EMAIL, "status_changed@v2"), (DeliveryChannel.SMS, "status_changed@v2"),
    ]  # fmt: skip
    assert "«Ответ готов»" in created[-1].message.text
    assert store.stored_offsets(events.TOPIC) == {0: 3}
    card = store.card("case-1")
    assert card is not None and card.status is Status.ANSWER_READY
    assert journal_stages(store) == ["requested"] * 6
    assert [d.notification_id for d in store.pending()] == [d.notification_id for d in created]


def test_a_replayed_batch_creates_nothing_twice(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    records = a_case_story()
    store.commit_batch(planner_for(store, catalog).plan(records).changes)
    again = store.commit_batch(planner_for(store, catalog).plan(records).changes)
    assert again == []
    assert len(store.pending()) == 6
    assert len(journal_stages(store)) == 6


def test_later_batches_use_the_stored_card(store: DeliveryStore, catalog: TemplateCatalog) -> None:
    first, *rest = a_case_story()
    store.commit_batch(planner_for(store, catalog).plan([first]).changes)
    created = store.commit_batch(planner_for(store, catalog).plan(rest).changes)
    assert {d.recipient for d in created} == {"citizen@example.org", "+79161234567"}
    assert store.stored_offsets(events.TOPIC) == {0: 3}


def test_events_of_unknown_cases_and_poison_advance_the_offset_only(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    orphan = CaseStream("never-created").status_changed(
        from_=Status.IN_PROGRESS, to=Status.ANSWER_READY, version=5
    )
    poison = dataclasses.replace(events.record(orphan, 1), value=b"\x08\x96")
    planned = planner_for(store, catalog).plan([events.record(orphan, 0), poison])
    assert [(r.offset, type(e).__name__) for r, e in planned.poisoned] == [(1, "PoisonRecord")]
    assert store.commit_batch(planned.changes) == []
    assert store.stored_offsets(events.TOPIC) == {0: 2}


def test_disabled_channels_get_no_deliveries(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    planner = planner_for(store, catalog, channels=(DeliveryChannel.EMAIL,))
    created = store.commit_batch(planner.plan(a_case_story()).changes)
    assert {d.channel for d in created} == {DeliveryChannel.EMAIL}


def test_notification_ids_derive_from_event_and_channel(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    records = a_case_story()
    created = store.commit_batch(planner_for(store, catalog).plan(records[:1]).changes)
    event_id = CaseStream("x", number="y").created().meta.event_id  # any other event: other ids
    ids = {d.notification_id for d in created}
    assert len(ids) == 2
    assert notification_id(event_id, DeliveryChannel.EMAIL) not in ids
    contacts = (DeliveryChannel.EMAIL, DeliveryChannel.SMS)
    assert {notification_id(created[0].source_event_id, c) for c in contacts} == ids


def test_a_failing_batch_leaves_nothing_behind(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    planned = planner_for(store, catalog).plan(a_case_story())
    broken = dataclasses.replace(planned.changes.cards["case-1"], number=None)  # type: ignore[arg-type]
    planned.changes.cards["case-1"] = broken  # NOT NULL
    with pytest.raises(Exception, match="NOT NULL"):
        store.commit_batch(planned.changes)
    assert store.stored_offsets(events.TOPIC) == {}
    assert store.pending() == []
    assert journal_stages(store) == []


def test_final_states_forget_the_message_and_mask_the_recipient(
    store: DeliveryStore, catalog: TemplateCatalog, tmp_path
) -> None:
    created = store.commit_batch(planner_for(store, catalog).plan(a_case_story()[:1]).changes)
    email, sms = created
    now = datetime.now(UTC)
    store.record_failure(email, 1, "SMTP 451", now, journal.failed(email, 1, "SMTP 451", True, now))
    store.record_final(email, DeliveryState.SENT, 2, now, [journal.sent(email, 2, "250 ok")])
    store.record_final(sms, DeliveryState.DEAD, 1, now, [journal.dead_lettered(sms, 1, "400")])
    assert store.state(email.notification_id) == (DeliveryState.SENT, 2)
    assert store.state(sms.notification_id) == (DeliveryState.DEAD, 1)
    assert store.pending() == []
    row = store._db.execute(
        "SELECT recipient, body_text, source_value FROM deliveries WHERE notification_id = ?",
        (email.notification_id,),
    ).fetchone()
    assert tuple(row) == ("c***@example.org", None, None)
    assert journal_stages(store) == ["requested", "requested", "failed", "sent", "dead_lettered"]


def test_pending_deliveries_survive_a_reopen_with_their_attempts(
    catalog: TemplateCatalog, tmp_path
) -> None:
    path = tmp_path / "reopen.sqlite3"
    first = DeliveryStore(path)
    created = first.commit_batch(planner_for(first, catalog).plan(a_case_story()[:1]).changes)
    now = datetime.now(UTC)
    first.record_failure(created[0], 3, "timeout", now, journal.requested(created[0]))
    first.close()
    second = DeliveryStore(path)
    resumed = second.pending()
    assert [d.notification_id for d in resumed] == [d.notification_id for d in created]
    assert resumed[0].attempts == 3
    assert resumed[0].message == created[0].message
    assert resumed[0].source == created[0].source
    assert second.stored_offsets(events.TOPIC) == {0: 1}
    second.close()


def test_journal_entries_mask_the_recipient_and_keep_stable_ids(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    created = store.commit_batch(planner_for(store, catalog).plan(a_case_story()[:1]).changes)
    sms = created[1]
    first = journal_pb2.NotificationEvent.FromString(journal.sent(sms, 1, "gw-1").value)
    second = journal_pb2.NotificationEvent.FromString(journal.sent(sms, 1, "gw-1").value)
    assert first.meta.event_id == second.meta.event_id
    assert first.recipient_masked == "+***67"
    assert first.channel == journal_pb2.SMS
    assert first.meta.causation_id == sms.source_event_id
    assert first.sent.sms_segments == sms.message.sms_segments == 1
    assert "+79161234567" not in str(first)


def test_journal_outbox_drains_in_order(store: DeliveryStore, catalog: TemplateCatalog) -> None:
    store.commit_batch(planner_for(store, catalog).plan(a_case_story()).changes)
    batch = store.journal_batch(4)
    assert [seq for seq, _ in batch] == sorted(seq for seq, _ in batch)
    store.drop_journal([seq for seq, _ in batch])
    assert len(store.journal_batch(100)) == 2


def test_requested_entries_carry_the_case_events_trace(
    store: DeliveryStore, catalog: TemplateCatalog
) -> None:
    traceparent = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    record = dataclasses.replace(a_case_story()[0], headers=(("traceparent", traceparent),))
    store.commit_batch(planner_for(store, catalog).plan([record]).changes)
    assert all(
        dict(entry.headers).get("traceparent") == traceparent
        for _, entry in store.journal_batch(10)
    )

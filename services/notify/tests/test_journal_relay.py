"""The journal relay over a Publisher: entries leave the outbox only once Kafka acked them."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import Any

import pytest

from casedesk_notify.adapters.deadline_policy import NoDeadlines
from casedesk_notify.adapters.kafka.journal_relay import JournalRelay
from casedesk_notify.adapters.rendering import TemplateCatalog
from casedesk_notify.adapters.store import DeliveryStore
from casedesk_notify.application.planning import BatchPlanner
from casedesk_notify.domain import DeliveryChannel, NotifyPolicy
from casedesk_notify.testing import events
from casedesk_notify.wire import journal
from casedesk_notify.wire.case_events import CaseEventDecoder
from casedesk_runtime.testing.kafka import FakeKafka

TOPIC = "notification.events.v1"


def write_journal(store: DeliveryStore, cases: int, first: int = 0) -> list[bytes]:
    """Consume `cases` new cases: two `Requested` entries each (e-mail, SMS); returns them all."""
    planner = BatchPlanner(
        CaseEventDecoder(NoDeadlines()), TemplateCatalog("https://portal.test/cases"),
        NotifyPolicy(), (DeliveryChannel.EMAIL, DeliveryChannel.SMS), store.card, journal=journal,
    )  # fmt: skip
    records = [
        events.record(events.created(f"case-{n}", f"2026-{n:07d}"), offset=n)
        for n in range(first, first + cases)
    ]
    store.commit_batch(planner.plan(records).changes)
    return [entry.value for _, entry in store.journal_batch(1000)]


async def test_entries_are_published_in_order_and_dropped_after_the_ack(
    store: DeliveryStore,
) -> None:
    kafka = FakeKafka()
    values = write_journal(store, 3)
    relay = JournalRelay(store, kafka.publisher(), TOPIC, batch_size=4)

    assert await relay.publish_pending() == 6

    assert [w.value for w in kafka.written] == values
    assert [w.key for w in kafka.written] == [f"case-{n}".encode() for n in (0, 0, 1, 1, 2, 2)]
    assert {w.topic for w in kafka.written} == {TOPIC}
    assert store.journal_backlog() == 0


async def test_a_first_delivery_that_fails_is_published_whole_after_recovery(
    store: DeliveryStore,
) -> None:
    kafka = FakeKafka(down=True)
    values = write_journal(store, 2)
    relay = JournalRelay(store, kafka.publisher(), TOPIC)
    running = asyncio.create_task(relay.run())

    await kafka.until_failures(3)
    assert store.journal_backlog() == 4  # nothing dropped before an ack
    kafka.down = False
    async with asyncio.timeout(5):
        while store.journal_backlog():
            await asyncio.sleep(0.005)
    relay.stop()
    await asyncio.wait_for(running, 5)

    assert [w.value for w in kafka.written] == values


async def test_the_last_flush_at_shutdown_publishes_what_was_written_last(
    store: DeliveryStore,
) -> None:
    kafka = FakeKafka()
    relay = JournalRelay(store, kafka.publisher(), TOPIC, idle_poll_s=30)
    running = asyncio.create_task(relay.run())
    await asyncio.sleep(0.01)  # the relay found nothing and sleeps

    values = write_journal(store, 1)  # written by the final deliveries, no wake-up
    relay.stop()
    await asyncio.wait_for(running, 5)

    assert [w.value for w in kafka.written] == values
    assert store.journal_backlog() == 0


async def test_closing_the_publisher_in_an_outage_ends_the_relay_and_keeps_the_entries(
    store: DeliveryStore, caplog: pytest.LogCaptureFixture
) -> None:
    kafka = FakeKafka(down=True)
    write_journal(store, 1)
    publisher = kafka.publisher()
    relay = JournalRelay(store, publisher, TOPIC)
    running = asyncio.create_task(relay.run())
    await kafka.until_failures(2)

    with caplog.at_level(logging.WARNING, logger="casedesk_notify.adapters.kafka.journal_relay"):
        relay.stop()
        await asyncio.sleep(0.05)
        assert not running.done()  # the last flush waits for Kafka ...
        publisher.close()  # ... until the shutdown gives up on it
        await asyncio.wait_for(running, 5)

    assert store.journal_backlog() == 2
    assert any("not fully flushed" in r.getMessage() for r in caplog.records)


async def test_a_failing_store_is_retried_by_the_running_relay(
    store: DeliveryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = FakeKafka()
    values = write_journal(store, 1)
    relay = JournalRelay(store, kafka.publisher(), TOPIC, idle_poll_s=30)
    journal_batch = store.journal_batch
    failures = 0

    def flaky_batch(limit: int) -> Any:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise sqlite3.OperationalError("database is locked")
        return journal_batch(limit)

    monkeypatch.setattr(store, "journal_batch", flaky_batch)
    running = asyncio.create_task(relay.run())
    async with asyncio.timeout(5):
        while store.journal_backlog():
            await asyncio.sleep(0.005)
    relay.stop()
    await asyncio.wait_for(running, 5)
    assert failures == 2
    assert [w.value for w in kafka.written] == values

"""The outbox relay over a Publisher: rows leave the outbox only once Kafka acknowledged them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from casedesk_runtime.testing.kafka import FakeKafka
from casedesk_sla.adapters.relay import OutboxRelay
from casedesk_sla.adapters.store import OutboxEntry, OutboxRow, SqliteClockStore
from casedesk_sla.domain import PolicyRegistry, SlaBook

TOPIC = "sla.events.v1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteClockStore]:
    store = SqliteClockStore(tmp_path / "sla.sqlite3")
    yield store
    store.close()


def add_to_outbox(store: SqliteClockStore, count: int, start: int = 0) -> list[str]:
    book = SlaBook(PolicyRegistry("test-seconds"))
    entries = [
        OutboxEntry(f"ev-{n}", f"case-{n % 3}", "sla.breached", f"payload-{n}".encode(), "tp-1")
        for n in range(start, start + count)
    ]
    store.save(book.table, book.take_changes(), {}, entries)
    return [entry.event_id for entry in entries]


def event_ids(kafka: FakeKafka) -> list[str]:
    return [(w.header("event-id") or b"").decode() for w in kafka.written]


async def test_publishes_in_outbox_order_with_key_and_headers_then_deletes(
    store: SqliteClockStore,
) -> None:
    kafka = FakeKafka()
    ids = add_to_outbox(store, 5)
    relay = OutboxRelay(store, kafka.publisher(), TOPIC, batch_size=3)

    await relay.drain()

    assert event_ids(kafka) == ids
    first = kafka.written[0]
    assert (first.topic, first.key, first.value) == (TOPIC, b"case-0", b"payload-0")
    assert first.header("event-type") == b"sla.breached"
    assert first.header("traceparent") == b"tp-1"
    assert store.outbox_size() == 0


async def test_an_outage_keeps_the_rows_until_a_fresh_producer_publishes_them(
    store: SqliteClockStore,
) -> None:
    kafka = FakeKafka(down=True)
    ids = add_to_outbox(store, 4)
    relay = OutboxRelay(store, kafka.publisher(), TOPIC)

    publishing = asyncio.create_task(relay.publish_pending())
    await kafka.until_failures(3)
    assert store.outbox_size() == 4  # nothing deleted while nothing is acknowledged
    assert not publishing.done()
    kafka.down = False

    assert await asyncio.wait_for(publishing, 5) == 4
    assert event_ids(kafka) == ids
    assert store.outbox_size() == 0


async def test_a_failed_send_is_resent_by_a_new_producer_and_nothing_is_lost(
    store: SqliteClockStore,
) -> None:
    kafka = FakeKafka(refuse_starts=1, fail_sends=2)
    ids = add_to_outbox(store, 6)
    relay = OutboxRelay(store, kafka.publisher(), TOPIC)

    assert await relay.publish_pending() == 6

    assert sorted(event_ids(kafka)) == sorted(ids)  # each once: only the refused were re-sent
    assert len(kafka.written) == 6
    assert kafka.starts == 3  # refused, failed two sends (discarded), the one that succeeded
    assert kafka.stopped == 1
    assert store.outbox_size() == 0


async def test_closing_the_publisher_abandons_the_delivery_and_keeps_the_rows(
    store: SqliteClockStore,
) -> None:
    kafka = FakeKafka(down=True)
    add_to_outbox(store, 2)
    publisher = kafka.publisher()
    relay = OutboxRelay(store, publisher, TOPIC)
    running = asyncio.create_task(relay.run())
    await kafka.until_failures(2)

    relay.stop()
    publisher.close()
    await asyncio.wait_for(running, 5)

    assert store.outbox_size() == 2  # published by the next run
    assert await relay.publish_pending() == 0


async def test_the_running_relay_publishes_rows_added_later_when_woken(
    store: SqliteClockStore,
) -> None:
    kafka = FakeKafka()
    relay = OutboxRelay(store, kafka.publisher(), TOPIC, idle_s=30)
    running = asyncio.create_task(relay.run())
    await asyncio.sleep(0.01)
    ids = add_to_outbox(store, 2)
    relay.wake()
    async with asyncio.timeout(5):
        while store.outbox_size():
            await asyncio.sleep(0.005)
    relay.stop()
    await asyncio.wait_for(running, 5)
    assert event_ids(kafka) == ids


async def test_a_failing_store_is_retried_by_the_running_relay(
    store: SqliteClockStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka = FakeKafka()
    ids = add_to_outbox(store, 2)
    relay = OutboxRelay(store, kafka.publisher(), TOPIC, idle_s=30)
    pending = store.pending
    failures = 0

    def flaky_pending(limit: int) -> list[OutboxRow]:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise sqlite3.OperationalError("database is locked")
        return pending(limit)

    monkeypatch.setattr(store, "pending", flaky_pending)
    running = asyncio.create_task(relay.run())
    async with asyncio.timeout(5):
        while store.outbox_size():
            await asyncio.sleep(0.005)
    relay.stop()
    await asyncio.wait_for(running, 5)
    assert failures == 2
    assert event_ids(kafka) == ids

"""The erasure journal as a stream: the backlog after a position, then each new erasure, at once
when made here and within the poll interval when made by another replica."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from casedesk_keys import SubjectId, Tombstone
from casedesk_keyservice.adapters.sqlite_journal import SqliteErasureJournal
from casedesk_keyservice.application import ErasureFeed
from casedesk_keyservice.domain import ErasureRecord, PositionAhead, WatchClosed

Batch = tuple[list[ErasureRecord], int]


def tombstone(generation: int = 1) -> Tombstone:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    return Tombstone(SubjectId(os.urandom(16)), generation, at, "p.orlova", "ПД-1")


@contextlib.asynccontextmanager
async def running(feed: ErasureFeed) -> AsyncIterator[ErasureFeed]:
    task = asyncio.create_task(feed.run())
    try:
        yield feed
    finally:
        feed.close()
        await task


async def next_batch(watch: AsyncIterator[Batch], timeout: float = 5.0) -> Batch:
    async with asyncio.timeout(timeout):
        return await anext(watch)


async def test_a_watch_sends_the_backlog_after_its_position_then_what_comes(
    journal: SqliteErasureJournal,
) -> None:
    first, second = (journal.record(tombstone(), "operator")[0] for _ in range(2))
    # A long poll: what comes next must arrive because it was rung, not polled.
    async with running(ErasureFeed(journal, poll_s=30)) as feed:
        watch = feed.watch(after=first.position)
        assert await next_batch(watch) == ([second], second.position)
        third, _ = journal.record(tombstone(), "case")
        feed.ring()
        assert await next_batch(watch, timeout=2) == ([third], third.position)
        await watch.aclose()


async def test_from_now_starts_with_an_empty_batch_at_the_head(
    journal: SqliteErasureJournal,
) -> None:
    before, _ = journal.record(tombstone(), "operator")
    async with running(ErasureFeed(journal, poll_s=30)) as feed:
        watch = feed.watch(after=None)
        assert await next_batch(watch) == ([], before.position)
        await watch.aclose()


async def test_an_erasure_by_another_replica_is_found_by_polling(
    journal: SqliteErasureJournal, store_path: Path
) -> None:
    other_replica = SqliteErasureJournal(store_path)
    async with running(ErasureFeed(journal, poll_s=0.1)) as feed:
        watch = feed.watch(after=None)
        await next_batch(watch)
        made, _ = other_replica.record(tombstone(), "operator")  # nobody rings here
        assert await next_batch(watch, timeout=2) == ([made], made.position)
        await watch.aclose()
    other_replica.close()


async def test_a_position_ahead_of_the_journal_is_refused(journal: SqliteErasureJournal) -> None:
    journal.record(tombstone(), "operator")
    feed = ErasureFeed(journal)
    with pytest.raises(PositionAhead, match="after_position 7 is ahead of the erasure journal"):
        await anext(feed.watch(after=7))


async def test_closing_the_feed_ends_every_watch(journal: SqliteErasureJournal) -> None:
    async with running(ErasureFeed(journal, poll_s=30)) as feed:
        watch = feed.watch(after=0)
        await next_batch(watch)
        waiting = asyncio.create_task(anext(watch))
        await asyncio.sleep(0.05)
        feed.close()
        with pytest.raises(WatchClosed):
            async with asyncio.timeout(2):
                await waiting
    with pytest.raises(WatchClosed):
        await anext(feed.watch(after=0))


async def test_batches_are_limited_and_in_journal_order(journal: SqliteErasureJournal) -> None:
    made = [journal.record(tombstone(), "operator")[0] for _ in range(5)]
    async with running(ErasureFeed(journal, poll_s=30, batch=2)) as feed:
        watch = feed.watch(after=0)
        batches = [await next_batch(watch) for _ in range(3)]
        await watch.aclose()
    assert [records for records, _ in batches] == [made[0:2], made[2:4], made[4:5]]
    ends = [made[1], made[3], made[4]]
    assert [position for _, position in batches] == [record.position for record in ends]

"""The process's one follower of the erasure journal (casedesk_keyservice.erasure_follower): the
listeners attached share one stream, in the order attached; it starts after the position a
durable listener remembers (from now with only the key cache's), resumes after the last batch
every listener applied when the stream breaks or a listener fails, and reads the journal again
from its start (or follows it from now, with only the cache) when the key service does not
know the position. A journal of the test's own in place of WatchErasures."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, Callable, Sequence

import grpc
import pytest

from casedesk_keys import SubjectId
from casedesk_keyservice.client import (
    CacheInvalidation,
    ErasureFollower,
    ErasureNotice,
    PositionUnknown,
)


class Journal:
    """WatchErasures of a fake key service: the notices after a position (or none, from now),
    then each new one. `break_after`: the stream ends UNAVAILABLE after that many batches."""

    def __init__(self) -> None:
        self.notices: list[ErasureNotice] = []
        self.asked: list[int | None] = []  # one entry per stream opened
        self.open = 0  # streams open now
        self.ahead_of: int | None = None  # positions above it are refused (PositionUnknown)
        self.break_after: int | None = None
        self.appended = asyncio.Event()

    def append(self, generation: int = 1) -> ErasureNotice:
        position = len(self.notices) + 1
        notice = ErasureNotice(SubjectId(os.urandom(16)), generation, position)
        self.notices.append(notice)
        self.appended.set()
        return notice

    def head(self) -> int:
        return self.notices[-1].position if self.notices else 0

    async def batches(
        self, after: int | None
    ) -> AsyncGenerator[tuple[list[ErasureNotice], int], None]:
        self.asked.append(after)
        if after and self.ahead_of is not None and after > self.ahead_of:
            raise PositionUnknown("after_position is ahead of the journal")
        self.open += 1
        try:
            position, sent, first = self.head() if after is None else after, 0, True
            while True:
                newer = [n for n in self.notices if n.position > position]
                if newer or first:
                    position = newer[-1].position if newer else position
                    yield newer, position
                    first, sent = False, sent + 1
                    if self.break_after is not None and sent >= self.break_after:
                        self.break_after = None
                        raise grpc.aio.AioRpcError(
                            grpc.StatusCode.UNAVAILABLE,
                            grpc.aio.Metadata(),
                            grpc.aio.Metadata(),
                            "the key service is stopping: watch again",
                        )
                self.appended.clear()
                await self.appended.wait()
        finally:
            self.open -= 1


class Durable:
    """A listener with a position of its own (the case index, notify's store), in memory."""

    def __init__(self, position: int = 0, seen: list[tuple[str, int]] | None = None) -> None:
        self.position = position
        self.seen = seen if seen is not None else []  # (who, position) in the order applied
        self.applied: list[ErasureNotice] = []
        self.fail_next = False

    async def resume_after(self) -> int:
        return self.position

    async def apply(self, notices: Sequence[ErasureNotice], position: int) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("the store is away")
        self.applied.extend(notices)
        self.position = position  # with the effect, as one transaction would
        self.seen.append(("store", position))


async def until(condition: Callable[[], bool], what: str) -> None:
    try:
        async with asyncio.timeout(5):
            while not condition():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(what) from None


async def running(follower: ErasureFollower) -> asyncio.Task[None]:
    task = asyncio.create_task(follower.run())
    await asyncio.wait_for(follower.watching.wait(), 5)
    return task


async def stopped(follower: ErasureFollower, task: asyncio.Task[None]) -> None:
    follower.stop()
    await asyncio.wait_for(task, 5)
    assert not task.cancelled()


async def test_one_stream_serves_the_key_cache_and_a_durable_listener_the_cache_first() -> None:
    journal = Journal()
    journal.append()  # 1: applied before the restart
    missed = journal.append()  # 2: made while the process was down
    seen: list[tuple[str, int]] = []
    forgotten: list[SubjectId] = []

    def invalidate(subject: SubjectId) -> None:
        forgotten.append(subject)
        seen.append(("cache", len(forgotten)))

    store = Durable(position=1, seen=seen)
    follower = ErasureFollower(journal.batches, [CacheInvalidation(invalidate)], retry_s=(0.01,))
    follower.attach(store)
    task = await running(follower)
    try:
        later = journal.append()  # 3
        await until(lambda: store.position == 3, "the new erasure")
        assert journal.asked == [1]  # one stream, after the durable listener's position
        assert journal.open == 1
        assert forgotten == [missed.subject, later.subject]
        assert store.applied == [missed, later]
        assert seen == [("cache", 1), ("store", 2), ("cache", 2), ("store", 3)]
        assert follower.position == 3
    finally:
        await stopped(follower, task)
    assert journal.open == 0


async def test_the_key_cache_alone_follows_from_now_then_after_the_last_position() -> None:
    journal = Journal()
    journal.append()  # before the process started: its cache never held that key
    forgotten: list[SubjectId] = []
    journal.break_after = 1
    follower = ErasureFollower(
        journal.batches, [CacheInvalidation(forgotten.append)], retry_s=(0.01,)
    )
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: len(journal.asked) == 2, "watching again")
        assert journal.asked == [None, 1]
        erased = journal.append()
        await until(lambda: forgotten == [erased.subject], "the erasure after the break")
    finally:
        await stopped(follower, task)


async def test_a_broken_stream_resumes_after_the_last_batch_applied() -> None:
    journal = Journal()
    first = journal.append()
    journal.break_after = 1
    store = Durable(position=0)
    follower = ErasureFollower(journal.batches, [store], retry_s=(0.01,))
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: len(journal.asked) == 2, "watching again")
        second = journal.append()
        await until(lambda: store.position == 2, "the erasure after the break")
        assert journal.asked == [0, 1]
        assert store.applied == [first, second]  # each once
    finally:
        await stopped(follower, task)


async def test_a_listener_that_fails_gets_the_batch_again_and_the_position_stays() -> None:
    journal = Journal()
    forgotten: list[SubjectId] = []
    store = Durable(position=0)
    follower = ErasureFollower(
        journal.batches, [CacheInvalidation(forgotten.append), store], retry_s=(0.01,)
    )
    task = await running(follower)
    try:
        store.fail_next = True
        erased = journal.append()
        await until(lambda: store.position == 1, "the batch applied on the second stream")
        # The stream that failed was closed; the next one resumed after 0, not after 1.
        assert journal.asked == [0, 0]
        assert journal.open == 1
        assert store.applied == [erased]
        assert forgotten == [erased.subject, erased.subject]  # again: harmless
    finally:
        await stopped(follower, task)


async def test_a_position_ahead_of_the_journal_is_read_again_from_its_start() -> None:
    """The key service's journal was restored from a backup: erasures after it may be new to
    us under positions we passed; applying everything again changes nothing but misses none."""
    journal = Journal()
    erased = journal.append()
    journal.ahead_of = 1
    store = Durable(position=50)
    follower = ErasureFollower(journal.batches, [store], retry_s=(0.01,))
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: store.position == 1, "read again from the start")
        assert journal.asked == [50, 0]
        assert store.applied == [erased]
    finally:
        await stopped(follower, task)


async def test_the_key_cache_alone_follows_from_now_when_its_position_is_refused() -> None:
    journal = Journal()
    forgotten: list[SubjectId] = []
    journal.break_after = 1
    for _ in range(3):
        journal.append()
    follower = ErasureFollower(
        journal.batches, [CacheInvalidation(forgotten.append)], retry_s=(0.01,)
    )
    task = asyncio.create_task(follower.run())
    try:
        await until(lambda: len(journal.asked) == 2, "watching again")
        journal.ahead_of = 2  # the key service came back with an older journal
        journal.break_after = 1
        journal.append()  # 4: sent, then the stream breaks
        await until(lambda: len(journal.asked) >= 4, "refused, then from now")
        assert journal.asked[:4] == [None, 3, 4, None]
    finally:
        await stopped(follower, task)


async def test_a_listener_is_attached_before_the_follower_runs() -> None:
    journal = Journal()
    follower = ErasureFollower(journal.batches, [Durable()])
    task = await running(follower)
    try:
        with pytest.raises(RuntimeError):  # it would miss the batches before it
            follower.attach(Durable())
    finally:
        await stopped(follower, task)

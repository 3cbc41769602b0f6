"""Notify follows the key service's erasure journal with the key client's one follower, the key
cache's listener and the store's (adapters.erasure_watch.ErasedRows) attached: every erasure
with its generation, forgotten in the key cache before the store, from the position the store
applied last (its start for a new store), a broken stream resumed, a position the key service
refuses as ahead of its journal read again from the start. A WatchErasures of the test's own,
over gRPC on 127.0.0.1 (plaintext: what is under test is the stream, not the TLS)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Collection, Sequence

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from casedesk.keys.v1 import key_service_pb2 as pb
from casedesk.keys.v1 import key_service_pb2_grpc
from casedesk_keys import SubjectId
from casedesk_keyservice.client import CacheInvalidation, ErasureFollower, erasure_batches
from casedesk_notify.adapters.erasure_watch import ErasedRows
from casedesk_notify.application.deliveries import Delivery, JournalEntry
from casedesk_notify.application.erasures import Erasure, ErasureSweep, Forgotten
from casedesk_notify.wire import journal


class Journal(key_service_pb2_grpc.KeyServiceServicer):
    """The key service's erasure journal: positions 10, 20, 30 ...; each watch sees the records
    after its position, then those appended while it watches. `break_after`: end the stream
    with UNAVAILABLE after that many batches (a key service restarting)."""

    def __init__(self) -> None:
        self.records: list[pb.Erasure] = []
        self.requests: list[pb.WatchErasuresRequest] = []
        self.appended = asyncio.Event()
        self.break_after: int | None = None

    def append(self, subject: SubjectId, generation: int = 1) -> int:
        position = 10 * (len(self.records) + 1)
        self.records.append(
            pb.Erasure(
                position=position, subject=str(subject), generation=generation,
                erased_at=Timestamp(seconds=1_780_000_000),
            )
        )  # fmt: skip
        self.appended.set()
        return position

    async def WatchErasures(  # the generated servicer's name
        self, request: pb.WatchErasuresRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ErasureBatch]:
        self.requests.append(request)
        head = self.records[-1].position if self.records else 0
        if request.after_position > head:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "ahead of the journal")
        position, sent = request.after_position, 0
        first = True
        while True:
            batch = [r for r in self.records if r.position > position]
            if batch or first:
                position = batch[-1].position if batch else position
                yield pb.ErasureBatch(erasures=batch, position=position)
                first, sent = False, sent + 1
                if self.break_after is not None and sent >= self.break_after:
                    self.break_after = None
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "restarting")
            self.appended.clear()
            await self.appended.wait()


class Store:
    """The store's side of the sweep, in memory."""

    def __init__(self, position: int | None = None) -> None:
        self.position = position
        self.applied: list[tuple[list[Erasure], int | None]] = []

    def erasure_position(self) -> int | None:
        return self.position

    def forget_erased(
        self,
        erasures: Sequence[Erasure],
        position: int | None,
        not_sent: Callable[[Delivery], JournalEntry],
        sending: Collection[str] = (),
    ) -> Forgotten:
        self.applied.append((list(erasures), position))
        if position is not None:
            self.position = position
        return Forgotten(cards=len(erasures))


@pytest.fixture
async def key_service() -> AsyncIterator[tuple[Journal, grpc.aio.Channel]]:
    journal_servicer = Journal()
    server = grpc.aio.server()
    key_service_pb2_grpc.add_KeyServiceServicer_to_server(journal_servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield journal_servicer, channel
    await channel.close()
    await server.stop(0)


async def until(condition: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def follower(
    channel: grpc.aio.Channel, forget_key: Callable[[SubjectId], None], store: Store
) -> ErasureFollower:
    """As notify's __main__ attaches them to the key client's follower (`over`/`connect`)."""
    return ErasureFollower(
        erasure_batches(channel),
        [CacheInvalidation(forget_key), ErasedRows(ErasureSweep(store, journal))],
        retry_s=(0.01,),
    )


def subject() -> SubjectId:
    return SubjectId(os.urandom(16))


async def test_every_erasure_reaches_the_cache_then_the_store_from_the_stored_position(
    key_service: tuple[Journal, grpc.aio.Channel],
) -> None:
    servicer, channel = key_service
    missed, earlier, later = subject(), subject(), subject()
    servicer.append(earlier)  # 10: applied before the restart
    servicer.append(missed, generation=2)  # 20: while notify was down
    store = Store(position=10)
    forgotten_keys: list[SubjectId] = []

    def forget_key(erased: SubjectId) -> None:
        forgotten_keys.append(erased)
        assert len(store.applied) < len(forgotten_keys)  # the cache before the store

    watch = follower(channel, forget_key, store)
    task = asyncio.create_task(watch.run())
    try:
        await until(lambda: store.position == 20, "the missed erasure")
        assert servicer.requests[0].after_position == 10 and not servicer.requests[0].from_now
        assert store.applied == [([Erasure(str(missed), 2)], 20)]
        assert watch.watching.is_set()

        servicer.append(later)  # 30: while it runs
        await until(lambda: store.position == 30, "the new erasure")
        assert store.applied[-1] == ([Erasure(str(later), 1)], 30)
        assert forgotten_keys == [missed, later]
    finally:
        watch.stop()
        await task


async def test_a_new_store_reads_the_journal_from_its_start(
    key_service: tuple[Journal, grpc.aio.Channel],
) -> None:
    servicer, channel = key_service
    old = subject()
    servicer.append(old)
    store = Store(position=None)
    watch = follower(channel, lambda s: None, store)
    task = asyncio.create_task(watch.run())
    try:
        await until(lambda: store.position == 10, "the erasure before notify's first start")
        assert store.applied == [([Erasure(str(old), 1)], 10)]
    finally:
        watch.stop()
        await task


async def test_a_broken_stream_resumes_after_the_last_position_applied(
    key_service: tuple[Journal, grpc.aio.Channel],
) -> None:
    servicer, channel = key_service
    store = Store(position=None)
    servicer.break_after = 1
    servicer.append(subject())
    watch = follower(channel, lambda s: None, store)
    task = asyncio.create_task(watch.run())
    try:
        await until(lambda: len(servicer.requests) >= 2, "watching again")
        assert [r.after_position for r in servicer.requests[:2]] == [0, 10]
        servicer.append(subject())
        await until(lambda: store.position == 20, "the erasure after the break")
        assert len(store.applied) == 2  # each applied once
    finally:
        watch.stop()
        await task


async def test_a_position_ahead_of_the_journal_is_read_again_from_the_start(
    key_service: tuple[Journal, grpc.aio.Channel],
) -> None:
    """The key service's journal was restored from a backup: erasures after it may be new to
    us under positions we passed; applying everything again changes nothing but misses none."""
    servicer, channel = key_service
    servicer.append(subject())
    store = Store(position=99)
    watch = follower(channel, lambda s: None, store)
    task = asyncio.create_task(watch.run())
    try:
        await until(lambda: store.position == 10, "read again from the start")
        assert [r.after_position for r in servicer.requests[:2]] == [99, 0]
    finally:
        watch.stop()
        await task

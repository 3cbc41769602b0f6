"""Coalescing concurrent calls into batches, for round trips that cost the same for one or many.

Calls that arrive while a batch is being run wait and make up the next batch, so batches grow
with the load and an idle service adds no delay (one event-loop turn). Every caller gets its own
result or exception; a failure of the whole batch fails each of its callers.

A batch holds at most `max_batch` items and, when the caller weighs its items (`weight`, e.g. the
bytes of a message), at most `max_weight` of their weight together: a batch that must fit a
message size limit takes the items in order while they fit. An item heavier than `max_weight`
still travels, alone; callers that cannot send it at all refuse it before calling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# One result per item, in order: a value, or the exception that item's caller gets.
BatchRun = Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]]


class Coalescer(Generic[T, R]):
    def __init__(
        self,
        run: BatchRun[T, R],
        *,
        max_batch: int = 256,
        max_concurrent: int = 1,
        max_weight: int | None = None,
    ) -> None:
        if max_batch < 1 or max_concurrent < 1 or (max_weight is not None and max_weight < 1):
            raise ValueError("max_batch, max_concurrent and max_weight must be at least 1")
        self._run = run
        self._max_batch = max_batch
        self._max_concurrent = max_concurrent
        self._max_weight = max_weight
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._weights: list[int] = []  # of the pending items, in the same order
        self._runners: set[asyncio.Task[None]] = set()
        # Counted by the runners themselves: a finished runner's task stays in _runners until its
        # done-callback runs, and a call made before that must still start a new runner.
        self._active = 0

    async def __call__(self, item: T, weight: int = 0) -> R:
        """`item`'s result, run in a batch; `weight` counts against the batch's `max_weight`."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._weights.append(weight)
        if self._active < self._max_concurrent:
            self._active += 1
            runner = asyncio.create_task(self._drain())
            self._runners.add(runner)
            runner.add_done_callback(self._runners.discard)
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # calls made in this loop turn join the first batch
            await self._run_pending()
        finally:
            self._active -= 1

    async def _run_pending(self) -> None:
        while self._pending:
            size = self._next_size()
            batch = self._pending[:size]
            del self._pending[:size]
            del self._weights[:size]
            try:
                results = await self._run([item for item, _ in batch])
            except asyncio.CancelledError:
                _fail(batch, asyncio.CancelledError())
                raise
            except Exception as failure:
                _fail(batch, failure)
                continue
            if len(results) != len(batch):
                _fail(batch, RuntimeError(f"batch of {len(batch)} got {len(results)} results"))
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller gave up (cancelled)
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _next_size(self) -> int:
        """How many of the pending items the next batch takes (at least one)."""
        size = min(len(self._pending), self._max_batch)
        if self._max_weight is None:
            return size
        total = 0
        for taken, weight in enumerate(self._weights[:size]):
            total += weight
            if total > self._max_weight:
                return max(1, taken)
        return size

    async def close(self) -> None:
        """Stop: the batch in flight is cancelled and every caller still waiting fails as
        cancelled (their effects are retried calls' business, like any interrupted call)."""
        for runner in list(self._runners):
            runner.cancel()
        await asyncio.gather(*self._runners, return_exceptions=True)
        _fail(self._pending, asyncio.CancelledError())
        self._pending.clear()
        self._weights.clear()


def _fail(batch: Sequence[tuple[object, asyncio.Future[R]]], failure: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            if isinstance(failure, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(failure)

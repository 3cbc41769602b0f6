"""Coalescer: concurrent calls share batches, each caller gets its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from casedesk_runtime.batching import Coalescer


class Recorder:
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate

    async def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


async def test_calls_of_one_loop_turn_share_a_batch_and_get_their_own_results() -> None:
    recorder = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(recorder)
    results = await asyncio.gather(*(coalesce(i) for i in (2, 4, 6)))
    assert results == [20, 40, 60]
    assert recorder.batches == [[2, 4, 6]]


async def test_calls_made_one_after_another_each_run() -> None:
    recorder = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(recorder)
    assert [await coalesce(i) for i in (2, 4, 6)] == [20, 40, 60]
    assert recorder.batches == [[2], [4], [6]]


async def test_an_item_exception_fails_only_its_caller() -> None:
    coalesce: Coalescer[int, int] = Coalescer(Recorder())
    results = await asyncio.gather(coalesce(2), coalesce(3), return_exceptions=True)
    assert results[0] == 20
    assert isinstance(results[1], ValueError) and str(results[1]) == "odd 3"


async def test_calls_made_while_a_batch_runs_form_the_next_batch() -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate)
    coalesce: Coalescer[int, int] = Coalescer(recorder)
    first = asyncio.ensure_future(coalesce(2))
    await asyncio.sleep(0.01)
    later = [asyncio.ensure_future(coalesce(i)) for i in (4, 6, 8)]
    await asyncio.sleep(0.01)
    assert recorder.batches == [[2]]
    gate.set()
    assert await first == 20
    assert [await f for f in later] == [40, 60, 80]
    assert recorder.batches == [[2], [4, 6, 8]]


async def test_batches_are_capped() -> None:
    recorder = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(recorder, max_batch=2)
    await asyncio.gather(*(coalesce(i) for i in (2, 4, 6, 8, 10)))
    assert recorder.batches == [[2, 4], [6, 8], [10]]


async def test_batches_are_capped_by_weight_and_a_heavy_item_travels_alone() -> None:
    recorder = Recorder()
    coalesce: Coalescer[int, int] = Coalescer(recorder, max_batch=3, max_weight=10)
    weights = {2: 4, 4: 4, 6: 4, 8: 25, 10: 1, 12: 1, 14: 1, 16: 1}
    await asyncio.gather(*(coalesce(i, weight=w) for i, w in weights.items()))
    # 4+4 fit and 4 more would not; 25 is over the cap alone; then the count caps the batch.
    assert recorder.batches == [[2, 4], [6], [8], [10, 12, 14], [16]]


async def test_a_failing_batch_fails_each_caller_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def flaky(items: Sequence[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return list(items)

    coalesce: Coalescer[int, int] = Coalescer(flaky)
    failed = await asyncio.gather(coalesce(1), coalesce(2), return_exceptions=True)
    assert all(isinstance(f, ConnectionError) for f in failed)
    assert await coalesce(3) == 3


async def test_a_wrong_number_of_results_is_an_error_not_a_misdelivery() -> None:
    async def short(items: Sequence[int]) -> list[int | BaseException]:
        return list(items)[:-1]

    coalesce: Coalescer[int, int] = Coalescer(short)
    failed = await asyncio.gather(coalesce(1), coalesce(2), return_exceptions=True)
    assert all(isinstance(f, RuntimeError) for f in failed)


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    gate = asyncio.Event()
    coalesce: Coalescer[int, int] = Coalescer(Recorder(gate))
    gone, stays = asyncio.ensure_future(coalesce(2)), asyncio.ensure_future(coalesce(4))
    await asyncio.sleep(0.01)
    gone.cancel()
    gate.set()
    assert await stays == 40
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_several_batches_may_run_at_once_when_allowed() -> None:
    gate = asyncio.Event()
    recorder = Recorder(gate)
    coalesce: Coalescer[int, int] = Coalescer(recorder, max_concurrent=2)
    first = asyncio.ensure_future(coalesce(2))
    await asyncio.sleep(0.01)
    second = asyncio.ensure_future(coalesce(4))
    await asyncio.sleep(0.01)
    assert recorder.batches == [[2], [4]]
    gate.set()
    assert (await first, await second) == (20, 40)


async def test_close_cancels_the_waiting_callers() -> None:
    coalesce: Coalescer[int, int] = Coalescer(Recorder(asyncio.Event()))
    waiting = asyncio.ensure_future(coalesce(2))
    await asyncio.sleep(0.01)
    await coalesce.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Coalescer(Recorder(), max_batch=0)

"""Followers of the log: woken by saves, paced under a steady stream, stopped by their bell."""

from __future__ import annotations

import asyncio

from casedesk_case.adapters.log_follower import Doorbell, follow


async def _run_while_ringing(
    pace_s: float, done_per_step: int, full_step: int = 0, step_s: float = 0.001
) -> int:
    """How many steps a follower takes in 0.3 s of saves ringing every millisecond."""
    bell = Doorbell()
    steps = 0

    async def step() -> int:
        nonlocal steps
        steps += 1
        await asyncio.sleep(step_s)  # a real step waits for the database or the broker
        return done_per_step

    follower = asyncio.create_task(follow("test", step, bell, 1.0, pace_s, full_step))
    for _ in range(300):
        bell.ring()
        await asyncio.sleep(0.001)
    bell.close()
    await asyncio.wait_for(follower, 2)
    return steps


async def test_a_steady_stream_is_followed_in_paced_steps() -> None:
    assert await _run_while_ringing(pace_s=0.1, done_per_step=3) <= 5
    assert await _run_while_ringing(pace_s=0.0, done_per_step=3) >= 50


async def test_the_pace_counts_from_the_start_of_a_step() -> None:
    # Steps that take longer than the pace follow each other at once, as if there were no pace
    # (a pause after each step would nearly halve their number).
    unpaced = await _run_while_ringing(pace_s=0.0, done_per_step=3, step_s=0.03)
    paced = await _run_while_ringing(pace_s=0.025, done_per_step=3, step_s=0.03)
    assert paced >= unpaced - 2


async def test_a_backlog_is_followed_without_pause() -> None:
    assert await _run_while_ringing(pace_s=0.1, done_per_step=500, full_step=500) >= 50


async def test_a_quiet_follower_wakes_at_the_first_ring() -> None:
    bell = Doorbell()
    woken = asyncio.Event()
    calls = 0

    async def step() -> int:
        nonlocal calls
        calls += 1
        if calls > 1:
            woken.set()
        return 0  # nothing to do: rest until rung

    follower = asyncio.create_task(follow("test", step, bell, 60.0, pace_s=1.0))
    await asyncio.sleep(0.02)
    bell.ring()
    await asyncio.wait_for(woken.wait(), 1)  # not after the 60 s idle wait
    bell.close()
    await asyncio.wait_for(follower, 2)

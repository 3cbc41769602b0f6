"""Followers (relays, projectors): woken by writes, paced under a steady stream, stopped by their
bell, backing off after a failing step with a few log lines per streak, not one per failure."""

from __future__ import annotations

import asyncio
import logging

import pytest

from casedesk_runtime import following
from casedesk_runtime.following import Doorbell, follow


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


async def test_a_failing_step_is_retried_after_a_backoff_and_logged_per_streak(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(following, "RETRY_S", (0.001,))
    bell = Doorbell()
    calls = 0
    recovered = asyncio.Event()

    async def step() -> int:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise OSError("database unavailable")
        recovered.set()
        return 0

    with caplog.at_level(logging.INFO, logger="casedesk_runtime.following"):
        follower = asyncio.create_task(follow("test relay", step, bell, 60.0))
        await asyncio.wait_for(recovered.wait(), 2)
        bell.close()
        await asyncio.wait_for(follower, 2)

    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "test relay failed; retrying with a backoff",
        messages[1],  # the summary when the streak ends
    ]
    assert caplog.records[0].exc_info is not None  # the first failure with its traceback
    assert messages[1].startswith("test relay recovered after ")
    assert messages[1].endswith(" and 5 failed attempts")


async def test_closing_the_bell_ends_the_backoff_after_a_failure() -> None:
    bell = Doorbell()
    failed = asyncio.Event()
    calls = 0

    async def step() -> int:
        nonlocal calls
        calls += 1
        failed.set()
        raise OSError("database unavailable")

    follower = asyncio.create_task(follow("test", step, bell, 60.0))
    await asyncio.wait_for(failed.wait(), 1)
    bell.ring()  # a ring does not cut the backoff (0.1 s) short ...
    await asyncio.sleep(0.02)
    assert calls == 1
    bell.close()  # ... closing does
    await asyncio.wait_for(follower, 1)

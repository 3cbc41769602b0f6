"""The watermark over partitions and the alarm timer that sleeps until it may fire."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sla_builders import SECOND, T0, CaseHistory

from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.application.engine import SlaEngine
from casedesk_sla.application.timer import AlarmTimer
from casedesk_sla.application.watermarks import Position, Watermarks
from casedesk_sla.domain import PolicyRegistry, SlaBook
from casedesk_sla.testing import ManualClock

A, B = ("case.events.v1", 0), ("case.events.v1", 1)


def test_watermark_is_now_when_caught_up_else_the_slowest_partitions_event_time():
    watermarks = Watermarks({B: Position(next_offset=10, event_time=T0 - SECOND)})
    watermarks.assign([A, B])

    assert watermarks.safe_time(T0) is None  # A never read and not known to be caught up
    watermarks.set_caught_up(A, True)
    assert watermarks.safe_time(T0) == T0 - SECOND  # B still behind: its stored event time
    watermarks.consumed(B, 10, T0 - 2 * SECOND)  # out of order: the watermark never goes back
    assert watermarks.safe_time(T0) == T0 - SECOND
    watermarks.set_caught_up(B, True)
    assert watermarks.safe_time(T0) == T0
    assert watermarks.take_changed() == {B: Position(11, T0 - SECOND)}
    assert watermarks.take_changed() == {}


def engine_with_case(
    tmp_path: Path, clock: ManualClock, on_decided=lambda facts: None
) -> SlaEngine:
    watermarks = Watermarks()
    watermarks.assign([A])
    watermarks.set_caught_up(A, True)
    book = SlaBook(PolicyRegistry("test-seconds"))
    store = SqliteClockStore(tmp_path / "sla.sqlite3")
    engine = SlaEngine(book, store, clock, watermarks, on_decided=on_decided)
    book.apply(CaseHistory().opened(T0))
    return engine


async def test_timer_fires_what_is_due_and_sleeps_until_the_next_alarm(tmp_path: Path):
    clock = ManualClock(T0 + 3_900_000)  # first-response warning (3.2 s) is due, breach at 4 s
    decided = []
    engine = engine_with_case(tmp_path, clock, on_decided=decided.extend)
    timer = AlarmTimer(engine, clock, max_sleep_s=1.0)

    running = asyncio.create_task(timer.run())
    await asyncio.sleep(0.05)

    assert [f.kind.value for f in decided] == ["Warning"]
    assert timer.next_sleep_s() == 0.100001  # the breach is 100 ms and 1 µs away
    clock.set(T0 + 4 * SECOND + 1)
    timer.wake()
    await asyncio.sleep(0.05)
    timer.stop()
    await running
    assert [f.kind.value for f in decided] == ["Warning", "Breached"]


async def test_timer_waits_for_the_consumer_while_a_partition_lags(tmp_path: Path):
    clock = ManualClock(T0 + 60 * SECOND)
    engine = engine_with_case(tmp_path, clock)
    engine.watermarks.set_caught_up(A, False)
    engine.watermarks.consumed(A, 0, T0)

    timer = AlarmTimer(engine, clock, max_sleep_s=0.5)

    assert engine.tick() == 0
    assert timer.next_sleep_s() == 0.5  # no busy loop on an overdue alarm it may not fire

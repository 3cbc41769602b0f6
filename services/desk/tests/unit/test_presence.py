"""Who else has a case open: one entry per open page, a person once, a stale page dropped."""

from __future__ import annotations

import asyncio
from typing import Any

from casedesk_desk.application.presence import PresenceBoard, Viewers
from casedesk_desk.domain.overview import DayCompliance, compliance_chart
from casedesk_desk.domain.presence import Presence, Viewer
from casedesk_runtime.testing.clocks import ManualClock

IVANOVA = Viewer("l1.ivanova", "Иванова Анна", "L1")
PETROV = Viewer("l2.petrov", "Петров Пётр", "L2")


def test_others_are_listed_once_by_name_without_oneself() -> None:
    presence = Presence(ttl_s=45)
    presence.join("c-1", IVANOVA)
    presence.join("c-1", PETROV)
    presence.join("c-1", PETROV)  # a second tab
    presence.join("c-2", Viewer("l3.sidorova", "Сидорова", "L3"))
    assert presence.others("c-1", "l1.ivanova") == [PETROV]
    assert presence.others("c-1", "l3.sidorova") == [IVANOVA, PETROV]


def test_a_page_not_touched_within_the_lifetime_is_swept_and_comes_back_when_touched() -> None:
    clock = ManualClock(0.0)
    board = PresenceBoard(Presence(ttl_s=45, clock=clock))
    inboxes: list[asyncio.Queue[Any]] = [asyncio.Queue(), asyncio.Queue()]
    with (
        board.present("c-1", IVANOVA, inboxes[0]) as mine,
        board.present("c-1", PETROV, inboxes[1]) as his,
    ):
        clock.now = 30
        board.touch(mine)
        clock.now = 50  # Petrov's page last touched at 0: a stream stuck on a dead connection
        assert board.others("c-1", "l1.ivanova") == []
        last = [inboxes[0].get_nowait() for _ in range(inboxes[0].qsize())][-1]
        assert last == Viewers(())
        board.touch(his)  # it was alive after all: back on the board
        assert board.others("c-1", "l1.ivanova") == [PETROV]
        assert inboxes[0].get_nowait() == Viewers((PETROV,))
    assert board.others("c-1", "anybody") == []  # both pages ended: both left


def test_the_chart_puts_each_days_bars_on_one_scale_with_its_share() -> None:
    from datetime import date

    days = [DayCompliance(date(2026, 3, 1), 6, 2, 0), DayCompliance(date(2026, 3, 2), 0, 0, 4)]
    chart = compliance_chart(days)
    assert chart.scale_max == 8
    first, second = chart.days
    assert (first.label, first.share_text, second.share_text) == ("01.03", "75%", "—")
    on_time, late = first.bars
    assert (on_time.kind, late.kind) == ("on-time", "late")
    assert on_time.height == 3 * late.height and late.y + late.height == on_time.y
    assert on_time.y + on_time.height == chart.baseline
    (breached,) = second.bars
    assert breached.kind == "breached" and breached.height == (chart.baseline - chart.top) / 2

"""The SLA series: open clocks by channel, tier and target; warnings and breaches; lateness.

The open-clock census is kept as clocks change (not counted by a scan at each scrape), so it is
checked against a scan through a case's whole life, a tier change and a restore from rows.
"""

from __future__ import annotations

import collections
from pathlib import Path

from sla_builders import SECOND, T0, CaseHistory

from casedesk_runtime.testing.metrics import scrape
from casedesk_sla.adapters.store import SqliteClockStore
from casedesk_sla.application import measurements
from casedesk_sla.application.engine import ConsumedEvent, SlaEngine
from casedesk_sla.application.watermarks import Watermarks
from casedesk_sla.domain import CaseFact, PolicyRegistry, SlaBook
from casedesk_sla.domain.rows import case_row, restore_rows
from casedesk_sla.domain.table import OPEN, TARGETS, ClockTable
from casedesk_sla.testing import ManualClock

PARTITION = ("case.events.v1", 0)
OPEN_CLOCKS = "casedesk_sla_open_clocks"


def scanned(table: ClockTable) -> dict[tuple[str, str, str], int]:
    """Open clocks counted the slow way, slot by slot."""
    counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for slot in table.slots():
        case = slot >> 1
        if table.case_ids[case] is not None and table.state[slot] in OPEN:
            key = (table.channel_of(case), table.tier_of(case), TARGETS[slot & 1].value)
            counts[key] += 1
    return dict(counts)


def census(table: ClockTable) -> dict[tuple[str, str, str], int]:
    return {
        (table.channels.words[c], table.tiers.words[t], TARGETS[target].value): count
        for (c, t, target), count in table.open_clocks.items()
        if count
    }


def test_the_census_follows_a_case_through_pause_tier_change_breach_and_resolution(
    seconds_book: SlaBook,
) -> None:
    book, chat, email = seconds_book, CaseHistory("chat-1"), CaseHistory("mail-1")
    steps: list[CaseFact | int] = [
        chat.opened(T0),
        email.opened(T0, channel="EMAIL", tier="L2"),
        chat.status(T0 + SECOND, "NEW", "WAITING_FOR_CITIZEN"),  # paused: still open
        chat.tier(T0 + 2 * SECOND, "L3"),  # both open clocks move to L3
        chat.status(T0 + 3 * SECOND, "WAITING_FOR_CITIZEN", "IN_PROGRESS", by_citizen=True),
        T0 + 30 * SECOND,  # time passes: breached clocks stay open until met
        email.reply(T0 + 31 * SECOND),  # meets the e-mail's first response
        chat.status(T0 + 32 * SECOND, "IN_PROGRESS", "ANSWER_READY"),  # meets both
    ]
    for step in steps:
        if isinstance(step, int):
            book.advance(step)
        else:
            book.apply(step)
        assert census(book.table) == scanned(book.table), step
    assert census(book.table) == {("EMAIL", "L2", "RESOLUTION"): 1}

    restored = ClockTable()
    table = book.table
    restore_rows(restored, [case_row(table, table.find("mail-1"))])  # type: ignore[arg-type]
    assert census(restored) == scanned(restored) == {("EMAIL", "L2", "RESOLUTION"): 1}


def _engine(tmp_path: Path, clock: ManualClock) -> SlaEngine:
    store = SqliteClockStore(tmp_path / "sla.sqlite3")
    book = SlaBook(PolicyRegistry("test-seconds"), is_retired=store.is_retired)
    store.load(book)
    watermarks = Watermarks(store.positions())
    watermarks.assign([PARTITION])
    watermarks.set_caught_up(PARTITION, True)
    return SlaEngine(book, store, clock, watermarks)


def test_open_clocks_warnings_and_breaches_are_scraped_by_channel_and_tier(
    tmp_path: Path, clock: ManualClock
) -> None:
    engine = _engine(tmp_path, clock)
    measurements.observe_open_clocks(engine.book)
    case = CaseHistory("social-1")
    first = {"channel": "SOCIAL", "tier": "L2", "target": "FIRST_RESPONSE"}
    before = scrape()

    engine.consume([ConsumedEvent(PARTITION, 0, T0, case.opened(T0, "SOCIAL", "L2"))])
    assert scrape().value(OPEN_CLOCKS, **first) == 1
    assert scrape().value(OPEN_CLOCKS, channel="SOCIAL", tier="L2") == 2

    clock.set(T0 + 5 * SECOND)  # past the first response's warning (3.2 s) and due (4 s)
    engine.tick()
    after = scrape()
    for series in ("casedesk_sla_warnings_total", "casedesk_sla_breaches_total"):
        assert after.value(series, **first) - before.value(series, **first) == 1
    lateness = "casedesk_sla_breach_lateness_seconds"
    assert after.value(f"{lateness}_count") - before.value(f"{lateness}_count") == 1
    assert after.value(f"{lateness}_sum") - before.value(f"{lateness}_sum") == 1  # 5 s - 4 s
    kinds = ("ClockStarted", "Warning", "Breached")
    assert [
        after.value("casedesk_sla_events_total", kind=k, target="FIRST_RESPONSE")
        - before.value("casedesk_sla_events_total", kind=k, target="FIRST_RESPONSE")
        for k in kinds
    ] == [1, 1, 1]
    assert after.value(OPEN_CLOCKS, **first) == 1  # breached, not yet met

    resolved = case.status(T0 + 6 * SECOND, "NEW", "ANSWER_READY")
    engine.consume([ConsumedEvent(PARTITION, 1, T0 + 6 * SECOND, resolved)])
    assert scrape().value(OPEN_CLOCKS, channel="SOCIAL", tier="L2") == 0

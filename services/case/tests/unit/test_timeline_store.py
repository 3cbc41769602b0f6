"""The case timeline's stores (memory, SQLite): facts once, clocks that never go back, days."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from casedesk_case.adapters.timeline.memory import InMemoryCaseTimeline
from casedesk_case.adapters.timeline.sql import SQLiteCaseTimeline
from casedesk_case.adapters.timeline.store import Entry, TimelineStore
from casedesk_case.application.timeline import (
    ClockState,
    DayCounts,
    NotificationFact,
    SlaClock,
    SlaFact,
)

from .test_timeline_clocks import CASE, FIRST, RESOLUTION, at, opened, sla

OTHER = "0b7f7a57-0000-4000-8000-0000000000c2"


def entries(*facts: SlaFact) -> list[Entry]:
    return [(fact.event_id, fact) for fact in facts]


def notice(kind: str, minute: float, attempt: int = 1, error: str = "") -> Entry:
    fact = NotificationFact(
        notification_id="n-1", case_id=CASE, at=at(minute), channel="SMS", kind=kind,
        recipient_masked="+***67", template="acknowledgement@1", error=error,
    )  # fmt: skip
    return f"n-1/{kind}/{attempt}", fact


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TimelineStore]:
    if request.param == "memory":
        yield InMemoryCaseTimeline()
        return
    datastore = SQLiteDatastore(str(tmp_path / "case.sqlite"))
    timeline = SQLiteCaseTimeline(datastore)
    timeline.create_tables()
    timeline.create_tables()  # idempotent, as at every start
    yield timeline
    datastore.close()


def test_facts_are_kept_once_and_read_oldest_first(store: TimelineStore) -> None:
    batch = [*entries(*opened(), sla("warning", 192, 240)), notice("sent", 1)]
    store.record(batch)
    store.record(batch)  # redelivered after a crash before the commit
    store.record([notice("failed", 0.5, error="временная ошибка шлюза")])
    sla_facts, notices = store.facts(CASE)
    assert [(f.kind, f.target) for f in sla_facts] == [
        ("started", FIRST), ("started", RESOLUTION), ("warning", FIRST)
    ]  # fmt: skip
    assert sla_facts[2].due_at == at(240)
    assert [(n.kind, n.at) for n in notices] == [("failed", at(0.5)), ("sent", at(1))]
    assert notices[1].recipient_masked == "+***67"
    assert notices[0].error == "временная ошибка шлюза"
    assert store.facts(OTHER) == ([], [])


def test_clocks_follow_the_facts_and_never_go_back(store: TimelineStore) -> None:
    store.record(entries(*opened(), sla("warning", 192, 240)))
    assert store.clocks([CASE]) == {CASE: SlaClock(CASE, FIRST, ClockState.WARNING, at(240), at(0))}
    # The breach arrives, then (late, out of order) a start recorded before it: no step back.
    store.record(entries(sla("breached", 240, 240)))
    store.record(entries(sla("started", 0, 240)))
    assert store.clocks([CASE, OTHER])[CASE].state is ClockState.BREACHED
    store.record(entries(sla("met", 300, 240, late=True)))
    assert store.clocks([CASE]) == {
        CASE: SlaClock(CASE, RESOLUTION, ClockState.RUNNING, at(7200), at(0))
    }


def test_a_batch_in_reverse_order_leaves_the_clock_of_the_right_order(
    store: TimelineStore,
) -> None:
    story = [*opened(OTHER), sla("paused", 60, 240, case_id=OTHER),
             sla("paused", 60, 7200, RESOLUTION, case_id=OTHER)]  # fmt: skip
    store.record(entries(*reversed(story)))
    assert store.clocks([OTHER]) == {
        OTHER: SlaClock(OTHER, FIRST, ClockState.PAUSED, at(240), at(0))
    }
    assert store.clocks([CASE]) == {}


def test_notices_alone_start_no_clock(store: TimelineStore) -> None:
    store.record([notice("sent", 1)])
    assert store.clocks([CASE]) == {}


def test_breaches_since_counts_each_breach_once(store: TimelineStore) -> None:
    store.record(entries(*opened(), sla("breached", 240, 240)))
    store.record(entries(sla("breached", 240, 240), sla("breached", 7200, 7200, RESOLUTION)))
    assert store.breaches_since(at(0)) == 2
    assert store.breaches_since(at(240)) == 2  # at or after
    assert store.breaches_since(at(241)) == 1
    assert store.breaches_since(at(7201)) == 0


def test_days_are_moscow_days_with_zeros_where_nothing_happened(store: TimelineStore) -> None:
    # 20:59 UTC is 23:59 in Moscow; 21:00 UTC is already the next Moscow day.
    evening = datetime(2026, 3, 2, 20, 59, tzinfo=UTC)
    midnight = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)
    facts = [
        _at(sla("met", 0, 240), evening),
        _at(sla("met", 1, 7200, RESOLUTION, late=True), evening),
        _at(sla("breached", 2, 240, case_id=OTHER), midnight),
        _at(sla("met", 3, 240, case_id=OTHER, late=True), midnight + timedelta(hours=2)),
        _at(sla("warning", 4, 240, case_id=OTHER), midnight),  # not an outcome
        _at(sla("met", 5, 300, case_id="outside"), datetime(2026, 3, 4, 21, 0, tzinfo=UTC)),
    ]
    store.record(entries(*facts))
    store.record([notice("sent", 1)])
    assert store.days(date(2026, 3, 1), date(2026, 3, 4)) == [
        DayCounts(date(2026, 3, 1), 0, 0, 0),
        DayCounts(date(2026, 3, 2), 1, 1, 0),
        DayCounts(date(2026, 3, 3), 0, 1, 1),
        DayCounts(date(2026, 3, 4), 0, 0, 0),
    ]
    assert store.days(date(2026, 3, 5), date(2026, 3, 5)) == [DayCounts(date(2026, 3, 5), 1, 0, 0)]


def test_the_case_sla_table_holds_the_contract_columns(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "case.sqlite"))
    timeline = SQLiteCaseTimeline(datastore)
    timeline.create_tables()
    timeline.record(entries(*opened()))
    datastore.close()
    with sqlite3.connect(tmp_path / "case.sqlite") as connection:
        row = connection.execute(
            "SELECT case_id, target, state, due_us, started_us, updated_us FROM case_sla"
        ).fetchone()
    assert row == (CASE, FIRST, "running", _us(at(240)), _us(at(0)), _us(at(0)))


def _at(fact: SlaFact, moment: datetime) -> SlaFact:
    return replace(fact, at=moment)


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)

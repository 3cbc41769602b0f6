"""The case timeline in memory, for the POPO store (unit tests, demos): the SQL stores' rules."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from casedesk_case.adapters.timeline.clocks import current_clock, fact_order
from casedesk_case.adapters.timeline.days import moscow_day, tally, window
from casedesk_case.adapters.timeline.store import Entry, TimelineStore, notice_order
from casedesk_case.application.timeline import DayCounts, NotificationFact, SlaClock, SlaFact
from casedesk_vocabulary.moscow import to_micros


class InMemoryCaseTimeline(TimelineStore):
    def __init__(self) -> None:
        self._facts: dict[str, SlaFact | NotificationFact] = {}
        self._by_case: dict[str, list[SlaFact | NotificationFact]] = {}
        self._clocks: dict[str, SlaClock] = {}
        self._lock = threading.Lock()

    def create_tables(self) -> None:
        pass

    def record(self, entries: Sequence[Entry]) -> None:
        with self._lock:
            touched: set[str] = set()
            for event_id, fact in entries:
                if event_id in self._facts:
                    continue
                self._facts[event_id] = fact
                self._by_case.setdefault(fact.case_id, []).append(fact)
                if isinstance(fact, SlaFact):
                    touched.add(fact.case_id)
            for case_id in touched:
                sla, _ = self._split(case_id)
                computed = current_clock(sla)
                if computed is not None:
                    self._clocks[case_id] = computed.clock

    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        with self._lock:
            return {c: self._clocks[c] for c in case_ids if c in self._clocks}

    def facts(self, case_id: str) -> tuple[Sequence[SlaFact], Sequence[NotificationFact]]:
        with self._lock:
            sla, notices = self._split(case_id)
        return sorted(sla, key=fact_order), sorted(notices, key=notice_order)

    def breaches_since(self, since: datetime) -> int:
        with self._lock:
            return sum(1 for f in self._sla() if f.kind == "breached" and f.at >= since)

    def days(self, first: date, last: date) -> list[DayCounts]:
        start, end = window(first, last)
        with self._lock:
            counted = [f for f in self._sla() if start <= to_micros(f.at) < end]
        return tally(first, last, ((moscow_day(f.at), f.kind, f.late, 1) for f in counted))

    def _split(self, case_id: str) -> tuple[list[SlaFact], list[NotificationFact]]:
        facts = self._by_case.get(case_id, [])
        return (
            [f for f in facts if isinstance(f, SlaFact)],
            [f for f in facts if isinstance(f, NotificationFact)],
        )

    def _sla(self) -> list[SlaFact]:
        return [f for f in self._facts.values() if isinstance(f, SlaFact)]

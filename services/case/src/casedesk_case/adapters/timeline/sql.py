"""The case timeline in SQL, in the case service's own SQLite or PostgreSQL database.

Two tables: `case_timeline_facts`, every SLA fact and notice once (keyed by the event id that
reported it, so a redelivered record adds nothing), and `case_sla` (application/timeline.py's
contract, read by the case index's deadline order), one current clock per case. Recording a batch
inserts its new facts and recomputes the clocks of the cases it touched from all their recorded
facts (clocks.py), in one transaction: the order facts arrive in does not matter. One SQL dialect
serves both databases; PostgreSQL's subclass (postgres.py) qualifies the tables and serialises
concurrent writers of a case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from casedesk_case.adapters.sla_table import sla_table_statements
from casedesk_case.adapters.timeline.clocks import current_clock, fact_order
from casedesk_case.adapters.timeline.days import COUNTED_KINDS, HOUR_US, hour_day, tally, window
from casedesk_case.adapters.timeline.rows import (
    COLUMNS,
    NOTIFICATION,
    SLA,
    clock_of,
    micros_or_none,
    notice_of,
    row_values,
    sla_fact_of,
)
from casedesk_case.adapters.timeline.store import Entry, TimelineStore, notice_order
from casedesk_case.application.timeline import (
    SLA_TABLE,
    DayCounts,
    NotificationFact,
    SlaClock,
    SlaFact,
)
from casedesk_vocabulary.moscow import to_micros

FACTS_TABLE = "case_timeline_facts"
# Case ids per IN (...) list: well under every database's limit on parameters.
CHUNK = 500


def facts_statements(facts: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {facts} (event_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, "
        "source TEXT NOT NULL, kind TEXT NOT NULL, at_us BIGINT NOT NULL, target TEXT NOT NULL, "
        "due_us BIGINT NULL, late INTEGER NOT NULL, notification_id TEXT NOT NULL, "
        "channel TEXT NOT NULL, recipient_masked TEXT NOT NULL, template TEXT NOT NULL, "
        "error TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS case_timeline_facts_case ON {facts} (case_id, at_us)",
        # Breaches today and compliance per day: by kind over a time range.
        f"CREATE INDEX IF NOT EXISTS case_timeline_facts_outcomes ON {facts} (source, kind, at_us)",
    ]


class SqlCaseTimeline(TimelineStore):
    """Statements shared by both databases, written with `?` placeholders."""

    placeholder = "?"
    facts_table = FACTS_TABLE
    sla_table = SLA_TABLE

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def create_statements(self) -> list[str]:
        return [*facts_statements(self.facts_table), *sla_table_statements(self.sla_table)]

    def create_tables(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in self.create_statements():
                cursor.execute(statement)

    def record(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        marks = ", ".join("?" * len(COLUMNS))
        insert = (
            f"INSERT INTO {self.facts_table} ({', '.join(COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (event_id) DO NOTHING"
        )
        cases = sorted({fact.case_id for _, fact in entries if isinstance(fact, SlaFact)})
        with self.datastore.transaction(commit=True) as cursor:
            self._lock_cases(cursor, cases)
            cursor.executemany(self._sql(insert), [row_values(e) for e in entries])
            if cases:
                self._update_clocks(cursor, cases)

    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        found: dict[str, SlaClock] = {}
        with self.datastore.transaction(commit=False) as cursor:
            for chunk in _chunks(list(dict.fromkeys(case_ids))):
                marks = ", ".join("?" * len(chunk))
                statement = f"SELECT * FROM {self.sla_table} WHERE case_id IN ({marks})"
                cursor.execute(self._sql(statement), list(chunk))
                found.update((row["case_id"], clock_of(row)) for row in cursor.fetchall())
        return found

    def facts(self, case_id: str) -> tuple[Sequence[SlaFact], Sequence[NotificationFact]]:
        statement = f"SELECT * FROM {self.facts_table} WHERE case_id = ?"
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), [case_id])
            rows = cursor.fetchall()
        sla = [sla_fact_of(row) for row in rows if row["source"] == SLA]
        notices = [notice_of(row) for row in rows if row["source"] == NOTIFICATION]
        return sorted(sla, key=fact_order), sorted(notices, key=notice_order)

    def breaches_since(self, since: datetime) -> int:
        statement = (
            f"SELECT COUNT(*) AS n FROM {self.facts_table} "
            "WHERE source = ? AND kind = ? AND at_us >= ?"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), [SLA, "breached", to_micros(since)])
            return int(cursor.fetchone()["n"])

    def days(self, first: date, last: date) -> list[DayCounts]:
        start, end = window(first, last)
        hour = f"at_us / {HOUR_US}"  # integer division in both databases
        statement = (
            f"SELECT {hour} AS hour, kind, late, COUNT(*) AS n FROM {self.facts_table} "
            "WHERE source = ? AND kind IN (?, ?) AND at_us >= ? AND at_us < ? "
            f"GROUP BY {hour}, kind, late"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), [SLA, *COUNTED_KINDS, start, end])
            rows = cursor.fetchall()
        outcomes = (
            (hour_day(int(r["hour"])), r["kind"], bool(r["late"]), int(r["n"])) for r in rows
        )
        return tally(first, last, outcomes)

    def _lock_cases(self, cursor: Any, case_ids: list[str]) -> None:
        """Serialise concurrent recorders of these cases (where the database needs it)."""

    def _update_clocks(self, cursor: Any, case_ids: list[str]) -> None:
        by_case: dict[str, list[SlaFact]] = {}
        for chunk in _chunks(case_ids):
            marks = ", ".join("?" * len(chunk))
            statement = (
                f"SELECT * FROM {self.facts_table} WHERE source = ? AND case_id IN ({marks})"
            )
            cursor.execute(self._sql(statement), [SLA, *chunk])
            for row in cursor.fetchall():
                by_case.setdefault(row["case_id"], []).append(sla_fact_of(row))
        upsert = (
            f"INSERT INTO {self.sla_table} "
            "(case_id, target, state, due_us, started_us, updated_us) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (case_id) DO UPDATE SET target = excluded.target, "
            "state = excluded.state, due_us = excluded.due_us, "
            "started_us = excluded.started_us, updated_us = excluded.updated_us"
        )
        rows = []
        for facts in by_case.values():
            computed = current_clock(facts)
            if computed is not None:
                clock = computed.clock
                rows.append((
                    clock.case_id, clock.target, clock.state.value, micros_or_none(clock.due_at),
                    micros_or_none(clock.started_at), to_micros(computed.updated_at),
                ))  # fmt: skip
        cursor.executemany(self._sql(upsert), rows)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder)


class SQLiteCaseTimeline(SqlCaseTimeline):
    """SQLite has one writer at a time: a batch's insert takes the lock its clock update needs."""


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]

"""Durable SLA state in SQLite: clock rows, consumed offsets and the outbox, one transaction each.

Everything one consumed batch or one timer tick changed is committed together: the clocks of the
cases it touched, the next offset of every partition it read and the SLA events it produced. After
a kill -9 the service reloads the clocks, seeks to the stored offsets and publishes what the outbox
still holds, so nothing is missed and nothing is decided twice. Published rows are deleted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from casedesk_sla.adapters.sqlite_schema import (
    CASE_COLUMNS,
    CLOCK_COLUMNS,
    TARGET_PREFIXES,
    upgrade,
)
from casedesk_sla.application.watermarks import PartitionKey, Position
from casedesk_sla.domain import Changes, SlaBook, SlaFact
from casedesk_sla.domain.rows import case_row, restore_rows
from casedesk_sla.domain.table import ClockTable
from casedesk_sla.wire.sla_events import event_type, sla_event


@dataclass(frozen=True)
class OutboxRow:
    seq: int
    event_id: str
    case_id: str
    event_type: str
    payload: bytes
    traceparent: str | None


@dataclass(frozen=True)
class OutboxEntry:
    event_id: str
    case_id: str
    event_type: str
    payload: bytes
    traceparent: str | None = None


# In the order of domain.rows: the case, then its first-response and resolution clocks.
_ALL_COLUMNS = [*CASE_COLUMNS, *(p + c for p in TARGET_PREFIXES for c in CLOCK_COLUMNS)]
_UPSERT = (
    f"INSERT OR REPLACE INTO sla_case ({', '.join(_ALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ALL_COLUMNS)})"
)


class SqliteClockStore:
    def __init__(self, path: str | Path) -> None:
        # isolation_level=None: transactions are explicit, one BEGIN ... COMMIT per save.
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives a power cut too, not only a killed process.
        self._db.execute("PRAGMA synchronous=FULL")
        upgrade(self._db)

    def close(self) -> None:
        self._db.close()

    def load(self, book: SlaBook) -> int:
        """Fill the book's table with every stored clock; returns the number of cases."""
        rows = self._db.execute(f"SELECT {', '.join(_ALL_COLUMNS)} FROM sla_case")
        count = restore_rows(book.table, rows)
        book.rebuild_alarms()
        return count

    def positions(self) -> dict[PartitionKey, Position]:
        rows = self._db.execute("SELECT topic, partition, next_offset, event_time FROM sla_offset")
        return {(topic, part): Position(offset, time) for topic, part, offset, time in rows}

    def is_retired(self, case_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sla_retired WHERE case_id = ?", (case_id,))
        return row.fetchone() is not None

    def save_decided(
        self,
        table: ClockTable,
        changes: Changes,
        positions: Mapping[PartitionKey, Position],
        decided: Sequence[SlaFact],
    ) -> None:
        """`save`, with the SLA events `decided` encoded for sla.events.v1 into the outbox."""
        self.save(table, changes, positions, [outbox_entry(fact) for fact in decided])

    def save(
        self,
        table: ClockTable,
        changes: Changes,
        positions: Mapping[PartitionKey, Position],
        outbox: Iterable[OutboxEntry],
    ) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            if changes.retired:
                retired = [(case_id,) for case_id in changes.retired]
                db.executemany("DELETE FROM sla_case WHERE case_id = ?", retired)
                db.executemany("INSERT OR IGNORE INTO sla_retired (case_id) VALUES (?)", retired)
            db.executemany(_UPSERT, (case_row(table, case) for case in changes.cases))
            db.executemany(
                "INSERT INTO sla_offset (topic, partition, next_offset, event_time) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = excluded.next_offset, event_time = excluded.event_time",
                [(t, p, pos.next_offset, pos.event_time) for (t, p), pos in positions.items()],
            )
            # The id is derived from (case, target, kind, due): a fact decided twice is kept once.
            db.executemany(
                "INSERT OR IGNORE INTO sla_outbox (event_id, case_id, event_type, payload, "
                "traceparent) VALUES (?, ?, ?, ?, ?)",
                ((e.event_id, e.case_id, e.event_type, e.payload, e.traceparent) for e in outbox),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def pending(self, limit: int) -> list[OutboxRow]:
        rows = self._db.execute(
            "SELECT seq, event_id, case_id, event_type, payload, traceparent FROM sla_outbox "
            "ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [OutboxRow(*row) for row in rows]

    def mark_published(self, up_to_seq: int) -> None:
        self._db.execute("DELETE FROM sla_outbox WHERE seq <= ?", (up_to_seq,))

    def outbox_size(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM sla_outbox").fetchone()[0])


def outbox_entry(fact: SlaFact) -> OutboxEntry:
    return OutboxEntry(
        fact.event_id,
        fact.case_id,
        event_type(fact),
        sla_event(fact).SerializeToString(),
        fact.traceparent,
    )

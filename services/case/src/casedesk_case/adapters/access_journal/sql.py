"""The access journal in SQL: one table, appended to under a lock, never updated.

Each append takes the database's write lock for the table, reads the last record and writes the
next ones chained to it (domain/access_journal.py), in one transaction: appenders queue (replicas
on PostgreSQL, processes on one SQLite file). Record numbers are the primary key besides, so two
appenders that did read the same last record could not both write: the loser appends again.
Triggers refuse UPDATE and DELETE, so even the service's own database user cannot rewrite history
by accident; the hash chain shows whoever does it on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

from casedesk_case.application.views import AccessFilter
from casedesk_case.domain.access_journal import AccessEntry, AccessRecord, chain
from casedesk_vocabulary.moscow import from_micros, to_micros

COLUMNS = (
    "sequence", "at_us", "person", "role", "case_id", "purpose", "caller", "rpc",
    "previous_hash", "record_hash",
)  # fmt: skip
APPEND_ATTEMPTS = 5
APPEND_ONLY = "the access journal is append-only"


def table_statement(table: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {table} (sequence BIGINT PRIMARY KEY, "
        "at_us BIGINT NOT NULL, person TEXT NOT NULL, role TEXT NOT NULL, "
        "case_id TEXT NOT NULL, purpose TEXT NOT NULL, caller TEXT NOT NULL, rpc TEXT NOT NULL, "
        "previous_hash TEXT NOT NULL, record_hash TEXT NOT NULL)"
    )


def index_statements(table: str) -> list[str]:
    return [
        f"CREATE INDEX IF NOT EXISTS case_access_journal_case ON {table} (case_id, sequence)",
        f"CREATE INDEX IF NOT EXISTS case_access_journal_person ON {table} (person, sequence)",
    ]


class SqlAccessJournal:
    """Statements shared by both databases, written with `?` placeholders."""

    placeholder = "?"
    table = "case_access_journal"

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def create_statements(self) -> list[str]:
        raise NotImplementedError

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            for statement in self.create_statements():
                cursor.execute(statement)

    def append(self, entries: Sequence[AccessEntry]) -> list[AccessRecord]:
        if not entries:
            return []
        marks = ", ".join("?" * len(COLUMNS))
        insert = self._sql(f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES ({marks})")
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                with self.datastore.transaction(commit=True) as cursor:
                    self._lock(cursor)
                    records = chain(self._last(cursor), entries)
                    cursor.executemany(insert, [_values(r) for r in records])
                return records
            except IntegrityError:  # another appender took the next number first
                if attempt == APPEND_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def search(self, criteria: AccessFilter, after_sequence: int, limit: int) -> list[AccessRecord]:
        where: list[str] = ["sequence > ?"]
        params: list[object] = [after_sequence]
        for condition, value in (
            ("case_id = ?", criteria.case_id),
            ("person = ?", criteria.person),
            ("at_us >= ?", to_micros(criteria.since) if criteria.since else None),
            ("at_us < ?", to_micros(criteria.until) if criteria.until else None),
        ):
            if value:
                where.append(condition)
                params.append(value)
        statement = (
            f"SELECT * FROM {self.table} WHERE {' AND '.join(where)} ORDER BY sequence LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), [*params, limit])
            return [_record(row) for row in cursor.fetchall()]

    def _lock(self, cursor: Any) -> None:
        """Queue concurrent appenders (where the database can); the primary key guards anyway."""

    def _last(self, cursor: Any) -> AccessRecord | None:
        cursor.execute(f"SELECT * FROM {self.table} ORDER BY sequence DESC LIMIT 1")
        row = cursor.fetchone()
        return _record(row) if row is not None else None

    def _sql(self, statement: str) -> str:
        return statement.replace("?", self.placeholder)


class SQLiteAccessJournal(SqlAccessJournal):
    def _lock(self, cursor: Any) -> None:
        # A write that changes nothing takes SQLite's write lock (waiting up to the store's lock
        # timeout) before the last record is read; read first, and a concurrent writer would make
        # this transaction's upgrade fail at once with "database is locked".
        cursor.execute(f"UPDATE {self.table} SET sequence = sequence WHERE 0")

    def create_statements(self) -> list[str]:
        guards = [
            f"CREATE TRIGGER IF NOT EXISTS case_access_journal_no_{verb.lower()} "
            f"BEFORE {verb} ON {self.table} BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
        return [table_statement(self.table), *index_statements(self.table), *guards]


def _values(record: AccessRecord) -> tuple[object, ...]:
    entry = record.entry
    return (
        record.sequence, to_micros(entry.at), entry.person, entry.role, entry.case_id,
        entry.purpose, entry.caller, entry.rpc, record.previous_hash, record.record_hash,
    )  # fmt: skip


def _record(row: Any) -> AccessRecord:
    entry = AccessEntry(
        at=from_micros(int(row["at_us"])),
        person=row["person"],
        role=row["role"],
        case_id=row["case_id"],
        purpose=row["purpose"],
        caller=row["caller"],
        rpc=row["rpc"],
    )
    return AccessRecord(int(row["sequence"]), entry, row["previous_hash"], row["record_hash"])

"""The erasure journal in the key store's SQLite file (a connection of its own; WAL lets the
key store and the journal take turns). AUTOINCREMENT: a position is never used twice."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from casedesk_keys import KeyUnavailable, Tombstone
from casedesk_keyservice.adapters import journal_sql as sql
from casedesk_keyservice.domain import ErasureRecord

_SQL = sql.statements("?")


class SqliteErasureJournal:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise KeyUnavailable(f"the erasure journal cannot be opened: {error}") from None
        with self._connection() as db:
            db.execute("PRAGMA busy_timeout=5000")
            for pragma in ("journal_mode=WAL", "synchronous=FULL"):
                db.execute(f"PRAGMA {pragma}")
            db.execute(sql.create_table("INTEGER PRIMARY KEY AUTOINCREMENT"))

    def record(self, tombstone: Tombstone, caller: str) -> tuple[ErasureRecord, bool]:
        key = (str(tombstone.subject), tombstone.generation)
        with self._connection() as db:
            written = db.execute(_SQL["insert"], sql.insert_values(tombstone, caller)).rowcount
            row = db.execute(_SQL["get"], key).fetchone()
        return sql.record_of(row), written == 1

    def after(self, position: int, limit: int) -> list[ErasureRecord]:
        with self._connection() as db:
            rows = db.execute(_SQL["after"], (position, limit)).fetchall()
        return [sql.record_of(row) for row in rows]

    def head(self) -> int:
        with self._connection() as db:
            return int(db.execute(_SQL["head"]).fetchone()[0])

    def count(self) -> int:
        with self._connection() as db:
            return int(db.execute(_SQL["count"]).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as error:  # locked, disk full, I/O error
                raise KeyUnavailable(f"the erasure journal failed: {error}") from None

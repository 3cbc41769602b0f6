"""The key store in a SQLite file, for a single-node installation and for tests.

Every commit is synchronous (`synchronous=FULL`): a key lost to a power cut after a field was
sealed with it would lose that field. `secure_delete` overwrites an erased key's bytes in the
file, and the write-ahead log is truncated after an erasure, so the wrapped key does not stay
behind in either file (the KEK still protects any copy a backup took).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from casedesk_keys.adapters import store_sql as sql
from casedesk_keys.data_keys import StoredKey, Tombstone, WrappedKey
from casedesk_keys.errors import KeyUnavailable
from casedesk_keys.subjects import SubjectId

_SQL = sql.statements("?", "BLOB")


class SqliteKeyStore:
    def __init__(self, path: Path | str) -> None:
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise KeyUnavailable(f"the key store cannot be opened: {error}") from None
        with self._connection() as db:
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "secure_delete=ON"):
                db.execute(f"PRAGMA {pragma}")
            db.execute("PRAGMA busy_timeout=5000")
        with self._transaction() as db:
            _migrate(db)

    def latest(self, subject: SubjectId) -> StoredKey | None:
        return self._one(_SQL["latest"], (str(subject),))

    def get(self, subject: SubjectId, generation: int) -> StoredKey | None:
        return self._one(_SQL["get"], (str(subject), generation))

    def add(
        self, subject: SubjectId, generation: int, wrapped: WrappedKey, created_at: datetime
    ) -> StoredKey:
        values = (str(subject), generation, sql.epoch(created_at), wrapped.kek_id, wrapped.blob)
        with self._connection() as db:
            db.execute(_SQL["add"], values)
        found = self.get(subject, generation)
        assert found is not None  # inserted, or there before
        return found

    def add_many(
        self, keys: Sequence[tuple[SubjectId, int, WrappedKey]], created_at: datetime
    ) -> list[StoredKey]:
        at = sql.epoch(created_at)
        rows = [(str(s), g, at, wrapped.kek_id, wrapped.blob) for s, g, wrapped in keys]
        with self._transaction() as db:
            db.executemany(_SQL["add"], rows)
            found = [db.execute(_SQL["get"], (str(s), g)).fetchone() for s, g, _ in keys]
        assert all(row is not None for row in found)  # inserted, or there before
        return [sql.stored_key(row) for row in found]

    def erase(
        self, subject: SubjectId, erased_at: datetime, erased_by: str, reason: str
    ) -> Tombstone:
        at = sql.epoch(erased_at)
        with self._transaction() as db:
            db.execute(_SQL["erase_unknown"], (str(subject), at, at, erased_by, reason))
            db.execute(_SQL["erase"], (at, erased_by, reason, str(subject)))
        with self._connection() as db:
            # The old page images, wrapped key included, stay in the log until it is truncated.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        latest = self.latest(subject)
        assert latest is not None and latest.tombstone is not None
        return latest.tombstone

    def wrapped_not_under(
        self, kek_id: str, after: tuple[SubjectId, int] | None, limit: int
    ) -> list[StoredKey]:
        with self._connection() as db:
            rows = db.execute(_SQL["not_under"], (kek_id, *sql.after_key(after), limit))
            return [sql.stored_key(row) for row in rows.fetchall()]

    def rewrap(self, subject: SubjectId, generation: int, old: WrappedKey, new: WrappedKey) -> bool:
        values = (new.kek_id, new.blob, str(subject), generation, old.kek_id, old.blob)
        with self._connection() as db:
            return db.execute(_SQL["rewrap"], values).rowcount == 1

    def counts_by_kek(self) -> dict[str, int]:
        with self._connection() as db:
            return dict(db.execute(_SQL["counts"]).fetchall())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, statement: str, values: tuple[object, ...]) -> StoredKey | None:
        with self._connection() as db:
            row = db.execute(statement, values).fetchone()
        return None if row is None else sql.stored_key(row)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as error:  # locked, disk full, I/O error
                raise KeyUnavailable(f"the key store failed: {error}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def _migrate(db: sqlite3.Connection) -> None:
    db.execute(sql.CREATE_VERSION_TABLE)
    version = db.execute(sql.READ_VERSION).fetchone()[0] or 0
    if version > sql.SCHEMA_VERSION:
        raise KeyUnavailable(
            f"the key store has schema {version}, this build knows {sql.SCHEMA_VERSION}"
        )
    for number, migration in enumerate(sql.MIGRATIONS[version:], start=version + 1):
        for statement in migration:
            db.execute(statement.format(blob="BLOB"))
        db.execute(_SQL["record_version"], (number,))

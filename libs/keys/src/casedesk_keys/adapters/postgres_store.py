"""The key store on PostgreSQL, for installations whose database is already there and backed up.

Commits keep PostgreSQL's default `synchronous_commit = on` (unlike intake's idempotency
records): a key lost in a crash after a field was sealed with it would lose that field.
Replicas starting together migrate one at a time (a transaction-scoped advisory lock).

An erased key's old row version stays in the table's pages until VACUUM reuses them, and in
WAL archives and backups: those copies are useless without the KEK version that wrapped them,
so a rotation (new KEK, rewrap, retire the old one) is what finally removes them
(README.md "Erasure").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import datetime

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from casedesk_keys.adapters import store_sql as sql
from casedesk_keys.data_keys import StoredKey, Tombstone, WrappedKey
from casedesk_keys.errors import KeyUnavailable
from casedesk_keys.subjects import SubjectId

_SQL = sql.statements("%s", "BYTEA")
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('casedesk-keys-schema'))"


class PostgresKeyStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def open(cls, url: str, max_size: int = 4, timeout_s: float = 10.0) -> PostgresKeyStore:
        pool = ConnectionPool(
            url, min_size=1, max_size=max_size, timeout=timeout_s, open=False,
            kwargs={"autocommit": True},
        )  # fmt: skip
        store = cls(pool)
        try:
            pool.open(wait=True, timeout=timeout_s)
            with store._transaction() as db:
                _migrate(db)
        except BaseException:
            pool.close()
            raise
        return store

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
            # ON CONFLICT waited for a concurrent creator to commit: its row is visible now.
            row = db.execute(_SQL["get"], (str(subject), generation)).fetchone()
        assert row is not None
        return sql.stored_key(row)

    def add_many(
        self, keys: Sequence[tuple[SubjectId, int, WrappedKey]], created_at: datetime
    ) -> list[StoredKey]:
        at = sql.epoch(created_at)
        rows = [(str(s), g, at, wrapped.kek_id, wrapped.blob) for s, g, wrapped in keys]
        with self._transaction() as db:
            with db.cursor() as cursor:
                cursor.executemany(_SQL["add"], rows)
            # ON CONFLICT waited for a concurrent creator to commit: its row is visible now.
            found = [db.execute(_SQL["get"], (str(s), g)).fetchone() for s, g, _ in keys]
        if any(row is None for row in found):
            raise RuntimeError("a data key just added is missing from the key store")
        return [sql.stored_key(row) for row in found if row is not None]

    def erase(
        self, subject: SubjectId, erased_at: datetime, erased_by: str, reason: str
    ) -> Tombstone:
        at = sql.epoch(erased_at)
        with self._transaction() as db:
            db.execute(_SQL["erase_unknown"], (str(subject), at, at, erased_by, reason))
            db.execute(_SQL["erase"], (at, erased_by, reason, str(subject)))
            row = db.execute(_SQL["latest"], (str(subject),)).fetchone()
        assert row is not None
        tombstone = sql.stored_key(row).tombstone
        assert tombstone is not None
        return tombstone

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
            return {kek_id: count for kek_id, count in db.execute(_SQL["counts"]).fetchall()}

    def close(self) -> None:
        self._pool.close()

    def _one(self, statement: str, values: tuple[object, ...]) -> StoredKey | None:
        with self._connection() as db:
            row = db.execute(statement, values).fetchone()
        return None if row is None else sql.stored_key(row)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection() as db:
                yield db
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise KeyUnavailable(f"the key store cannot be reached: {error}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        with self._connection() as db, db.transaction():
            yield db


def _migrate(db: psycopg.Connection) -> None:
    db.execute(_SCHEMA_LOCK)
    db.execute(sql.CREATE_VERSION_TABLE)
    found = db.execute(sql.READ_VERSION).fetchone()
    version = (found[0] if found else None) or 0
    if version > sql.SCHEMA_VERSION:
        raise KeyUnavailable(
            f"the key store has schema {version}, this build knows {sql.SCHEMA_VERSION}"
        )
    for number, migration in enumerate(sql.MIGRATIONS[version:], start=version + 1):
        for statement in migration:
            db.execute(statement.format(blob="BYTEA"))
        db.execute(_SQL["record_version"], (number,))

"""The erasure journal on PostgreSQL, beside the key store.

Writers take the table's EXCLUSIVE lock (readers do not wait): positions come from an identity
column, and without the lock a position taken first could commit after a later one, so a
watcher that already moved past the later one would never see it. Erasures are rare; waiting
for one another costs nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from casedesk_keys import KeyUnavailable, Tombstone
from casedesk_keyservice.adapters import journal_sql as sql
from casedesk_keyservice.domain import ErasureRecord

_SQL = sql.statements("%s")
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtext('casedesk-key-erasures-schema'))"
_WRITE_LOCK = f"LOCK TABLE {sql.TABLE} IN EXCLUSIVE MODE"


class PostgresErasureJournal:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def open(cls, url: str, max_size: int = 4, timeout_s: float = 10.0) -> PostgresErasureJournal:
        pool = ConnectionPool(
            url, min_size=1, max_size=max_size, timeout=timeout_s, open=False,
            kwargs={"autocommit": True},
        )  # fmt: skip
        journal = cls(pool)
        try:
            pool.open(wait=True, timeout=timeout_s)
            with journal._transaction() as db:
                db.execute(_SCHEMA_LOCK)  # replicas starting together create the table once
                db.execute(sql.create_table("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"))
        except PoolTimeout as error:
            pool.close()
            raise KeyUnavailable(f"the erasure journal cannot be reached: {error}") from None
        except BaseException:
            pool.close()
            raise
        return journal

    def record(self, tombstone: Tombstone, caller: str) -> tuple[ErasureRecord, bool]:
        key = (str(tombstone.subject), tombstone.generation)
        with self._transaction() as db:
            db.execute(_WRITE_LOCK)
            written = db.execute(_SQL["insert"], sql.insert_values(tombstone, caller)).rowcount
            row = db.execute(_SQL["get"], key).fetchone()
        assert row is not None  # inserted, or there before
        return sql.record_of(row), written == 1

    def after(self, position: int, limit: int) -> list[ErasureRecord]:
        with self._connection() as db:
            rows = db.execute(_SQL["after"], (position, limit)).fetchall()
        return [sql.record_of(row) for row in rows]

    def head(self) -> int:
        with self._connection() as db:
            found = db.execute(_SQL["head"]).fetchone()
        return int(found[0]) if found else 0

    def count(self) -> int:
        with self._connection() as db:
            found = db.execute(_SQL["count"]).fetchone()
        return int(found[0]) if found else 0

    def close(self) -> None:
        self._pool.close()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection() as db:
                yield db
        except (psycopg.OperationalError, PoolTimeout) as error:
            raise KeyUnavailable(f"the erasure journal cannot be reached: {error}") from None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        with self._connection() as db, db.transaction():
            yield db

"""IntakeStore on PostgreSQL, for replicas that share their idempotency records.

Connections run in autocommit mode and every operation is one statement, so a call costs one
round trip per store operation and no BEGIN/COMMIT pairs.
"""

from __future__ import annotations

import time

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from casedesk_intake.adapters.store import SCHEMA, RecentCase, RequestMismatch

# Insert the claim, or read the existing record when the key was used before. A record that a
# concurrent first attempt has not committed yet is invisible to the read: no row comes back,
# and the call runs (the case service's idempotency covers that race).
_CLAIM = """
    WITH inserted AS (
        INSERT INTO intake_idempotency (frontend, idempotency_key, request_hash, created_at)
        VALUES (%(frontend)s, %(key)s, %(hash)s, %(now)s)
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT TRUE, NULL, NULL FROM inserted
    UNION ALL
    SELECT FALSE, request_hash, response FROM intake_idempotency
    WHERE frontend = %(frontend)s AND idempotency_key = %(key)s
      AND NOT EXISTS (SELECT 1 FROM inserted)
"""
_COMPLETE = """
    UPDATE intake_idempotency SET response = %(response)s
    WHERE frontend = %(frontend)s AND idempotency_key = %(key)s
"""
_COMPLETE_AND_REMEMBER = f"""
    WITH completed AS ({_COMPLETE})
    INSERT INTO intake_recent_cases
        (case_id, citizen_ref, service_key, case_number, registered_at)
    VALUES (%(case_id)s, %(citizen_ref)s, %(service_key)s, %(case_number)s, %(registered_at)s)
    ON CONFLICT DO NOTHING
"""


async def _autocommit(connection: AsyncConnection) -> None:
    await connection.set_autocommit(True)


class PostgresStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, url: str, max_size: int = 8) -> PostgresStore:
        pool = AsyncConnectionPool(
            url, min_size=2, max_size=max_size, open=False, configure=_autocommit
        )
        await pool.open(wait=True)
        async with pool.connection() as db, db.transaction():
            # Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
            await db.execute("SELECT pg_advisory_xact_lock(hashtext('casedesk-intake-schema'))")
            for statement in SCHEMA:
                await db.execute(statement.format(blob="BYTEA"))
        return cls(pool)

    async def claim(self, frontend: str, key: str, request_hash: str) -> bytes | None:
        parameters = {"frontend": frontend, "key": key, "hash": request_hash, "now": time.time()}
        async with self._pool.connection() as db:
            cursor = await db.execute(_CLAIM, parameters)
            row = await cursor.fetchone()
        if row is None or row[0]:
            return None
        _, stored_hash, response = row
        if stored_hash != request_hash:
            raise RequestMismatch
        return bytes(response) if response is not None else None

    async def complete(
        self, frontend: str, key: str, response: bytes, recent: RecentCase | None = None
    ) -> None:
        parameters: dict[str, object] = {"frontend": frontend, "key": key, "response": response}
        if recent is not None:
            parameters.update(vars(recent))
        async with self._pool.connection() as db:
            await db.execute(_COMPLETE_AND_REMEMBER if recent else _COMPLETE, parameters)

    async def release(self, frontend: str, key: str) -> None:
        async with self._pool.connection() as db:
            await db.execute(
                "DELETE FROM intake_idempotency "
                "WHERE frontend = %s AND idempotency_key = %s AND response IS NULL",
                (frontend, key),
            )

    async def latest_case(
        self, citizen_ref: str, service_key: str, since: float
    ) -> RecentCase | None:
        async with self._pool.connection() as db:
            cursor = await db.execute(
                "SELECT case_id, case_number, registered_at FROM intake_recent_cases "
                "WHERE citizen_ref = %s AND service_key = %s AND registered_at >= %s "
                "ORDER BY registered_at DESC LIMIT 1",
                (citizen_ref, service_key, since),
            )
            row = await cursor.fetchone()
        return RecentCase(citizen_ref, service_key, *row) if row else None

    async def purge(self, idempotency_before: float, recent_before: float) -> None:
        async with self._pool.connection() as db, db.transaction():
            await db.execute(
                "DELETE FROM intake_idempotency WHERE created_at < %s", (idempotency_before,)
            )
            await db.execute(
                "DELETE FROM intake_recent_cases WHERE registered_at < %s", (recent_before,)
            )

    async def close(self) -> None:
        await self._pool.close()

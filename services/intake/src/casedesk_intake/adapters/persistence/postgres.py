"""IntakeStore on PostgreSQL, for replicas that share their idempotency records.

Connections run in autocommit mode and every operation is one statement. The claims and
completions of concurrent calls are coalesced: one statement (one round trip, one commit) serves
every call that arrived while the previous one ran, which keeps intake's cost per case low under
load.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from casedesk_intake.adapters.persistence.schema import (
    ADD_COMMAND_KEY,
    ISSUE_CODE,
    MARK_SEALED,
    SCHEMA,
    SEALED_SINCE,
    USE_CODE,
    latest_case_query,
)
from casedesk_intake.application.ports import RecentCase, RequestMismatch
from casedesk_intake.domain.errors import StoreUnavailable
from casedesk_runtime.batching import Coalescer

# Claims of new calls and completions of finished ones travel in the same statement: at a few
# hundred calls a second few calls arrive during one round trip, so batching each kind apart
# would still cost about one statement per call. Most batches still hold one kind only (claims
# arrive one by one, a batch of creates completes together): the statement has only the parts
# its batch needs (`_write_statement`), which costs PostgreSQL about half as much for a lone claim
# as the three parts did, and psycopg a third of the parameters.
#
# The arrays travel in binary (%b): psycopg spells a text array out in Python element by element,
# quoting and escaping each (a bytea's every byte), which cost more CPU than the rest of the call.
#
# Every part is an INSERT ... ON CONFLICT over unnest()ed arrays: the unique index decides, so
# the plan PostgreSQL caches while the table is still empty stays right when it holds millions of
# rows (a join with the table would be planned as a scan of the nearly empty table and then scan
# the grown table on every call).
#
# A completion stores the reply on its claim (an upsert: a claim purged meanwhile is written
# afresh) and remembers the new case for linking; a call the case service's receipt answers for
# only remembers its case (`remember`). A claim inserts its key; the keys not inserted
# were used before. ON CONFLICT waits for a concurrent first attempt to commit, so the follow-up
# read (_EARLIER) finds its record. Keys are inserted in order, so two replicas' statements do
# not deadlock on each other's keys.
_COMPLETED = """
    INSERT INTO intake_idempotency
        (frontend, idempotency_key, request_hash, response, created_at)
    SELECT *, %(now)b FROM unnest(
        %(done_frontends)b::text[], %(done_keys)b::text[], %(done_hashes)b::text[],
        %(responses)b::bytea[]
    )
    ORDER BY 1, 2
    ON CONFLICT (frontend, idempotency_key) DO UPDATE SET response = EXCLUDED.response
"""
_REMEMBERED = """
    INSERT INTO intake_recent_cases
        (case_id, citizen_ref, service_key, case_number, registered_at, command_key)
    SELECT * FROM unnest(
        %(case_ids)b::text[], %(citizen_refs)b::text[], %(service_keys)b::text[],
        %(case_numbers)b::text[], %(registered_at)b::float8[], %(command_keys)b::text[]
    )
    ON CONFLICT DO NOTHING
"""
_CLAIMED = """
    INSERT INTO intake_idempotency (frontend, idempotency_key, request_hash, created_at)
    SELECT *, %(now)b
    FROM unnest(%(frontends)b::text[], %(keys)b::text[], %(hashes)b::text[])
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING
    RETURNING frontend, idempotency_key
"""

# The commonest batch of all, a claim alone (claims arrive one by one): without the arrays, a
# quarter cheaper again on both sides.
_CLAIMED_ONE = """
    INSERT INTO intake_idempotency (frontend, idempotency_key, request_hash, created_at)
    VALUES (%(frontend)s, %(key)s, %(hash)s, %(now)s)
    ON CONFLICT DO NOTHING
    RETURNING frontend, idempotency_key
"""


@functools.cache
def _write_statement(claims: bool, completions: bool, recents: bool) -> str:
    """One statement of the parts a batch has: the claims' insert (returning the keys it
    inserted) last when there are claims, the others as data-modifying CTEs before it."""
    parts = [
        (name, sql)
        for name, sql, wanted in (
            ("completed", _COMPLETED, completions),
            ("remembered", _REMEMBERED, recents),
            ("claimed", _CLAIMED, claims),
        )
        if wanted
    ]
    *before, (_, last) = parts
    if not before:
        return last
    return "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql in before) + last


_EARLIER = """
    SELECT frontend, idempotency_key, request_hash, response FROM intake_idempotency
    WHERE (frontend, idempotency_key) IN (SELECT * FROM unnest(%b::text[], %b::text[]))
"""


@dataclass(frozen=True)
class _Claim:
    frontend: str
    key: str
    request_hash: str


@dataclass(frozen=True)
class _Remembered:
    recent: RecentCase


@dataclass(frozen=True)
class _Completion:
    frontend: str
    key: str
    request_hash: str
    response: bytes
    recent: RecentCase | None


_Write = _Claim | _Completion | _Remembered


async def _configure(connection: AsyncConnection) -> None:
    await connection.set_autocommit(True)
    # No commit waits for its WAL flush: a record lost in a crash of the database server only
    # makes a retry run again, and the case service answers it with the original case (see
    # application/ports.py). The flush would cost every call a disk round trip for nothing.
    await connection.execute("SET synchronous_commit = off")


class PostgresStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._writes: Coalescer[_Write, bytes | None] = Coalescer(self._write_batch)

    @classmethod
    async def open(cls, url: str, max_size: int = 8) -> PostgresStore:
        pool = AsyncConnectionPool(
            url, min_size=2, max_size=max_size, open=False, configure=_configure
        )
        await pool.open(wait=True)
        async with pool.connection() as db, db.transaction():
            # Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
            await db.execute("SELECT pg_advisory_xact_lock(hashtext('casedesk-intake-schema'))")
            for statement in SCHEMA:
                await db.execute(statement.format(blob="BYTEA"))
            await db.execute(ADD_COMMAND_KEY.format(if_not_exists="IF NOT EXISTS "))
        return cls(pool)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection; a lost or unobtainable one (PostgreSQL restarting, the pool's
        wait running out: psycopg's OperationalError, PoolTimeout included) is StoreUnavailable,
        which frontends retry, never INTERNAL. The failed statement did nothing durable: each is
        one autocommitted statement or one transaction."""
        try:
            async with self._pool.connection() as db:
                yield db
        except psycopg.OperationalError as lost:
            raise StoreUnavailable() from lost

    async def claim(self, frontend: str, key: str, request_hash: str) -> bytes | None:
        return await self._writes(_Claim(frontend, key, request_hash))

    async def complete(
        self,
        frontend: str,
        key: str,
        request_hash: str,
        response: bytes,
        recent: RecentCase | None = None,
    ) -> None:
        await self._writes(_Completion(frontend, key, request_hash, response, recent))

    async def remember(self, recent: RecentCase) -> None:
        await self._writes(_Remembered(recent))

    async def _write_batch(self, writes: Sequence[_Write]) -> list[bytes | Exception | None]:
        claims = [w for w in writes if isinstance(w, _Claim)]
        completions = [w for w in writes if isinstance(w, _Completion)]
        # A key twice in one batch (a retry racing its first attempt) is claimed once; the second
        # caller is answered like a claim that found the first one unfinished.
        unique = list({(c.frontend, c.key): c for c in reversed(claims)}.values())
        recent = [c.recent for c in completions if c.recent is not None]
        recent += [w.recent for w in writes if isinstance(w, _Remembered)]
        statement, parameters = _write(unique, completions, recent)
        async with self._connection() as db:
            cursor = await db.execute(statement, parameters)
            inserted = {(row[0], row[1]) for row in await cursor.fetchall()} if unique else set()
            used = [c for c in unique if (c.frontend, c.key) not in inserted]
            earlier = {}
            if used:  # retries: read what their first attempts stored
                cursor = await db.execute(
                    _EARLIER, ([c.frontend for c in used], [c.key for c in used])
                )
                earlier = {(row[0], row[1]): (row[2], row[3]) for row in await cursor.fetchall()}
        first_hash = {(c.frontend, c.key): c.request_hash for c in unique}
        return [
            _claimed(w, earlier.get((w.frontend, w.key)), first_hash)
            if isinstance(w, _Claim)
            else None
            for w in writes
        ]

    async def release(self, frontend: str, key: str) -> None:
        async with self._connection() as db:
            await db.execute(
                "DELETE FROM intake_idempotency "
                "WHERE frontend = %s AND idempotency_key = %s AND response IS NULL",
                (frontend, key),
            )

    async def latest_case(
        self, citizen_ref: str, service_key: str, since: float, call_key: str = ""
    ) -> RecentCase | None:
        async with self._connection() as db:
            statement, parameters = latest_case_query(
                citizen_ref, service_key, since, call_key, "%s"
            )
            cursor = await db.execute(statement, parameters)
            row = await cursor.fetchone()
        return RecentCase(citizen_ref, service_key, *row) if row else None

    async def sealed_since(self) -> float | None:
        async with self._connection() as db:
            cursor = await db.execute(SEALED_SINCE)
            row = await cursor.fetchone()
        return float(row[0]) if row else None

    async def mark_sealed(self, since: float) -> None:
        async with self._connection() as db:
            await db.execute(MARK_SEALED.format(p="%s"), (since,))

    async def issue_code(self, case_number: str, code_hash: str, expires_at: float) -> None:
        async with self._connection() as db:
            await db.execute(ISSUE_CODE.format(p="%s"), (case_number, code_hash, expires_at))

    async def use_code(self, case_number: str, code_hash: str, now: float, max_wrong: int) -> bool:
        async with self._connection() as db:
            parameters = (code_hash, case_number, now, max_wrong, code_hash)
            cursor = await db.execute(USE_CODE.format(p="%s"), parameters)
            row = await cursor.fetchone()
        return bool(row and row[0])

    async def purge(
        self, idempotency_before: float, recent_before: float, codes_before: float | None = None
    ) -> None:
        async with self._connection() as db, db.transaction():
            await db.execute(
                "DELETE FROM intake_idempotency WHERE created_at < %s", (idempotency_before,)
            )
            await db.execute(
                "DELETE FROM intake_recent_cases WHERE registered_at < %s", (recent_before,)
            )
            if codes_before is not None:
                await db.execute(
                    "DELETE FROM intake_access_codes WHERE expires_at < %s", (codes_before,)
                )

    async def close(self) -> None:
        await self._writes.close()
        await self._pool.close()


def _write(
    claims: Sequence[_Claim], completions: Sequence[_Completion], recent: Sequence[RecentCase]
) -> tuple[str, dict[str, object]]:
    """The statement for a batch (claims with distinct keys) and its parameters."""
    parameters: dict[str, object] = {"now": time.time()}
    if len(claims) == 1 and not completions:
        (claim,) = claims
        parameters.update(frontend=claim.frontend, key=claim.key, hash=claim.request_hash)
        return _CLAIMED_ONE, parameters
    if claims:
        parameters["frontends"] = [c.frontend for c in claims]
        parameters["keys"] = [c.key for c in claims]
        parameters["hashes"] = [c.request_hash for c in claims]
    if completions:
        parameters["done_frontends"] = [c.frontend for c in completions]
        parameters["done_keys"] = [c.key for c in completions]
        parameters["done_hashes"] = [c.request_hash for c in completions]
        parameters["responses"] = [c.response for c in completions]
    if recent:
        parameters["case_ids"] = [r.case_id for r in recent]
        parameters["citizen_refs"] = [r.citizen_ref for r in recent]
        parameters["service_keys"] = [r.service_key for r in recent]
        parameters["case_numbers"] = [r.case_number for r in recent]
        parameters["registered_at"] = [r.registered_at for r in recent]
        parameters["command_keys"] = [r.command_key for r in recent]
    return _write_statement(bool(claims), bool(completions), bool(recent)), parameters


def _claimed(
    claim: _Claim,
    earlier: tuple[str, bytes | None] | None,
    first_hash: dict[tuple[str, str], str],
) -> bytes | Exception | None:
    """The stored reply to replay, None when the call must run, or the mismatch refusal."""
    if earlier is None:
        expected = first_hash[(claim.frontend, claim.key)]
        return RequestMismatch() if claim.request_hash != expected else None
    stored_hash, response = earlier
    if stored_hash != claim.request_hash:
        return RequestMismatch()
    return bytes(response) if response is not None else None

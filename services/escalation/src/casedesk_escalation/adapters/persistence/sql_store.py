"""The decision store: per-case state, the decision journal and consumed offsets, in one database.

Everything a batch decides is committed in one transaction together with the offsets it consumed,
so after a kill -9 the service resumes exactly after the last committed batch: nothing decided
twice, nothing forgotten. Offsets are written with a compare-and-set on the previous value, which
fences a consumer that lost its partitions in a rebalance but still tries to commit.

Database calls are blocking DB-API calls run on one dedicated thread, which also serialises them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from casedesk_escalation.adapters.persistence.dialects import Dialect
from casedesk_escalation.adapters.persistence.state_json import dump_state, load_state
from casedesk_escalation.application.records import (
    DecidedBatch,
    OffsetConflict,
    Partition,
    PendingCommand,
    StoredDecision,
)
from casedesk_escalation.domain.case_state import CaseState

T = TypeVar("T")
_CHUNK = 500


class SqlDecisionStore:
    """The application's DecisionStore on SQLite or PostgreSQL."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="escalation-store")
        self._connection: Any = None

    @property
    def backend(self) -> str:
        return self._dialect.name

    async def open(self) -> None:
        await self._run(self._open)

    async def close(self) -> None:
        if self._connection is not None:
            await self._run(self._connection.close)
            self._connection = None
        self._executor.shutdown(wait=True)

    async def offsets(self, group: str) -> dict[Partition, int]:
        sql = (
            "SELECT topic, partition_id, next_offset FROM escalation_offsets "
            "WHERE consumer_group = ?"
        )
        rows = await self._run(lambda: self._query(sql, (group,)))
        return {(topic, partition): offset for topic, partition, offset in rows}

    async def load_cases(self, case_ids: Iterable[str]) -> dict[str, CaseState]:
        return await self._run(lambda: self._load_cases(list(case_ids)))

    async def commit(self, group: str, batch: DecidedBatch) -> None:
        """Write a decided batch atomically; OffsetConflict if a partition moved meanwhile."""
        await self._run(lambda: self._commit(group, batch))

    async def pending_commands(self, limit: int = 1000) -> list[PendingCommand]:
        sql = (
            "SELECT seq, decision_id, case_id, record, command, trace_context "
            "FROM escalation_decisions WHERE command IS NOT NULL ORDER BY seq LIMIT ?"
        )
        rows = await self._run(lambda: self._query(sql, (limit,)))
        return [PendingCommand(s, d, c, bytes(r), bytes(cmd), t) for s, d, c, r, cmd, t in rows]

    async def settle(self, outcomes: Iterable[tuple[int, bytes]]) -> None:
        """Commands the case service answered: keep the final journal record, drop the command."""
        sql = "UPDATE escalation_decisions SET record = ?, command = NULL WHERE seq = ?"
        params = [(record, seq) for seq, record in outcomes]
        await self._run(lambda: self._write(lambda cur: cur.executemany(self._sql(sql), params)))

    async def unpublished(self, limit: int = 1000) -> list[StoredDecision]:
        sql = (
            "SELECT seq, decision_id, case_id, record, trace_context FROM escalation_decisions "
            "WHERE NOT published AND command IS NULL ORDER BY seq LIMIT ?"
        )
        rows = await self._run(lambda: self._query(sql, (limit,)))
        return [StoredDecision(s, d, c, bytes(r), t) for s, d, c, r, t in rows]

    async def mark_published(self, seqs: Iterable[int]) -> None:
        sql = "UPDATE escalation_decisions SET published = TRUE WHERE seq = ?"
        params = [(seq,) for seq in seqs]
        await self._run(lambda: self._write(lambda cur: cur.executemany(self._sql(sql), params)))

    # -- on the store thread ------------------------------------------------------------------

    def _open(self) -> None:
        self._connection = self._dialect.connect()
        with self._transaction() as cursor:
            for statement in (*self._dialect.before_schema, *self._dialect.schema):
                cursor.execute(statement)

    def _load_cases(self, case_ids: list[str]) -> dict[str, CaseState]:
        found: dict[str, CaseState] = {}
        for start in range(0, len(case_ids), _CHUNK):
            chunk = case_ids[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT case_id, state FROM escalation_cases WHERE case_id IN ({marks})"
            for case_id, text in self._query(sql, tuple(chunk)):
                found[case_id] = load_state(case_id, text)
        return found

    def _commit(self, group: str, batch: DecidedBatch) -> None:
        with self._transaction() as cursor:
            for (topic, partition), (expected, next_offset) in sorted(batch.offsets.items()):
                if expected is None:
                    cursor.execute(
                        self._sql(
                            "INSERT INTO escalation_offsets (consumer_group, topic, partition_id,"
                            " next_offset) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
                        ),
                        (group, topic, partition, next_offset),
                    )
                else:
                    cursor.execute(
                        self._sql(
                            "UPDATE escalation_offsets SET next_offset = ? WHERE consumer_group = ?"
                            " AND topic = ? AND partition_id = ? AND next_offset = ?"
                        ),
                        (next_offset, group, topic, partition, expected),
                    )
                if cursor.rowcount != 1:
                    raise OffsetConflict(
                        f"{topic}[{partition}] is no longer at offset {expected}: another "
                        "consumer committed it; this batch is discarded"
                    )
            cursor.executemany(
                self._sql(
                    "INSERT INTO escalation_cases (case_id, state) VALUES (?, ?) "
                    "ON CONFLICT (case_id) DO UPDATE SET state = excluded.state"
                ),
                [(case_id, dump_state(state)) for case_id, state in batch.cases.items()],
            )
            cursor.executemany(
                self._sql(
                    "INSERT INTO escalation_decisions (decision_id, case_id, record, command, "
                    "trace_context) VALUES (?, ?, ?, ?, ?)"
                ),
                [(e.decision_id, e.case_id, e.record, e.command, e.trace) for e in batch.entries],
            )

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._transaction(write=False) as cursor:
            cursor.execute(self._sql(sql), params)
            return list(cursor.fetchall())

    def _write(self, work: Callable[[Any], object]) -> None:
        with self._transaction() as cursor:
            work(cursor)

    @contextlib.contextmanager
    def _transaction(self, write: bool = True) -> Iterator[Any]:
        connection = self._connection
        cursor = connection.cursor()
        if self._dialect.begin:
            cursor.execute(self._dialect.begin if write else "BEGIN")
        try:
            yield cursor
        except BaseException:
            self._finish(connection, cursor, commit=False)
            raise
        else:
            self._finish(connection, cursor, commit=True)
        finally:
            cursor.close()

    def _finish(self, connection: Any, cursor: Any, commit: bool) -> None:
        if self._dialect.begin:  # explicit transactions (SQLite in autocommit mode)
            cursor.execute("COMMIT" if commit else "ROLLBACK")
        elif commit:
            connection.commit()
        else:
            connection.rollback()

    def _sql(self, statement: str) -> str:
        return self._dialect.sql(statement)

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

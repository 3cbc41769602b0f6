"""IntakeStore on an SQLite file, the embedded default.

One connection used from one worker thread: SQLite serialises writers anyway, and a single thread
keeps the event loop free while a commit waits for the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from casedesk_intake.adapters.persistence.schema import (
    ADD_COMMAND_KEY,
    COMMAND_KEY_COLUMN,
    ISSUE_CODE,
    MARK_SEALED,
    SCHEMA,
    SEALED_SINCE,
    USE_CODE,
    latest_case_query,
)
from casedesk_intake.application.ports import RecentCase, RequestMismatch

T = TypeVar("T")


class SqliteStore:
    def __init__(self, connection: sqlite3.Connection, worker: ThreadPoolExecutor) -> None:
        self._db = connection
        self._worker = worker

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-sqlite")

        def connect() -> sqlite3.Connection:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL survives a crash of the process; application/ports.py says why that is enough.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            for statement in SCHEMA:
                db.execute(statement.format(blob="BLOB"))
            columns = {row[1] for row in db.execute("PRAGMA table_info(intake_recent_cases)")}
            if COMMAND_KEY_COLUMN not in columns:
                db.execute(ADD_COMMAND_KEY.format(if_not_exists=""))
            return db

        connection = await asyncio.get_running_loop().run_in_executor(worker, connect)
        return cls(connection, worker)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._worker, work, self._db)

    async def claim(self, frontend: str, key: str, request_hash: str) -> bytes | None:
        def claim(db: sqlite3.Connection) -> bytes | None:
            inserted = db.execute(
                "INSERT INTO intake_idempotency (frontend, idempotency_key, request_hash, "
                "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (frontend, key, request_hash, time.time()),
            ).rowcount
            if inserted:
                return None
            row = db.execute(
                "SELECT request_hash, response FROM intake_idempotency "
                "WHERE frontend = ? AND idempotency_key = ?",
                (frontend, key),
            ).fetchone()
            if row is None:  # purged meanwhile: an expired key starts afresh
                return None
            stored_hash, response = row
            if stored_hash != request_hash:
                raise RequestMismatch
            return bytes(response) if response is not None else None

        return await self._run(claim)

    async def complete(
        self,
        frontend: str,
        key: str,
        request_hash: str,
        response: bytes,
        recent: RecentCase | None = None,
    ) -> None:
        def complete(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute(
                    "INSERT INTO intake_idempotency (frontend, idempotency_key, request_hash, "
                    "response, created_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (frontend, idempotency_key) DO UPDATE SET response = "
                    "excluded.response",
                    (frontend, key, request_hash, response, time.time()),
                )
                if recent is not None:
                    _remember(db, recent)

        await self._run(complete)

    async def remember(self, recent: RecentCase) -> None:
        def remember(db: sqlite3.Connection) -> None:
            with db:
                _remember(db, recent)

        await self._run(remember)

    async def release(self, frontend: str, key: str) -> None:
        def release(db: sqlite3.Connection) -> None:
            db.execute(
                "DELETE FROM intake_idempotency "
                "WHERE frontend = ? AND idempotency_key = ? AND response IS NULL",
                (frontend, key),
            )

        await self._run(release)

    async def latest_case(
        self, citizen_ref: str, service_key: str, since: float, call_key: str = ""
    ) -> RecentCase | None:
        def latest(db: sqlite3.Connection) -> RecentCase | None:
            statement, parameters = latest_case_query(
                citizen_ref, service_key, since, call_key, "?"
            )
            row = db.execute(statement, parameters).fetchone()
            return RecentCase(citizen_ref, service_key, *row) if row else None

        return await self._run(latest)

    async def sealed_since(self) -> float | None:
        def read(db: sqlite3.Connection) -> float | None:
            row = db.execute(SEALED_SINCE).fetchone()
            return float(row[0]) if row else None

        return await self._run(read)

    async def mark_sealed(self, since: float) -> None:
        def mark(db: sqlite3.Connection) -> None:
            db.execute(MARK_SEALED.format(p="?"), (since,))

        await self._run(mark)

    async def issue_code(self, case_number: str, code_hash: str, expires_at: float) -> None:
        def issue(db: sqlite3.Connection) -> None:
            db.execute(ISSUE_CODE.format(p="?"), (case_number, code_hash, expires_at))

        await self._run(issue)

    async def use_code(self, case_number: str, code_hash: str, now: float, max_wrong: int) -> bool:
        def use(db: sqlite3.Connection) -> bool:
            parameters = (code_hash, case_number, now, max_wrong, code_hash)
            row = db.execute(USE_CODE.format(p="?"), parameters).fetchone()
            return bool(row and row[0])

        return await self._run(use)

    async def purge(
        self, idempotency_before: float, recent_before: float, codes_before: float | None = None
    ) -> None:
        def purge(db: sqlite3.Connection) -> None:
            with db:
                db.execute("BEGIN")
                db.execute(
                    "DELETE FROM intake_idempotency WHERE created_at < ?", (idempotency_before,)
                )
                db.execute(
                    "DELETE FROM intake_recent_cases WHERE registered_at < ?", (recent_before,)
                )
                if codes_before is not None:
                    db.execute(
                        "DELETE FROM intake_access_codes WHERE expires_at < ?", (codes_before,)
                    )

        await self._run(purge)

    async def close(self) -> None:
        await self._run(lambda db: db.close())
        self._worker.shutdown(wait=True)


def _remember(db: sqlite3.Connection, recent: RecentCase) -> None:
    db.execute(
        "INSERT INTO intake_recent_cases (case_id, citizen_ref, service_key, "
        "case_number, registered_at, command_key) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        (recent.case_id, recent.citizen_ref, recent.service_key,
         recent.case_number, recent.registered_at, recent.command_key),
    )  # fmt: skip

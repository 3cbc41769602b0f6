"""Intake's only durable state: idempotency records and the index of recent cases for linking.

Idempotency records are keyed by (frontend, key) and hold a digest of the request and, once the
call succeeded, the serialized reply. A record without a reply is a call that was started and
never finished (a crash between the case service and here): it is simply run again, because the
key intake passes on to the case service is derived from this one and the case service returns
its original result. The same reasoning makes losing the last writes at a power failure harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS intake_idempotency (
        frontend TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response {blob},
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (frontend, idempotency_key)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS intake_recent_cases (
        case_id TEXT PRIMARY KEY,
        citizen_ref TEXT NOT NULL,
        service_key TEXT NOT NULL,
        case_number TEXT NOT NULL,
        registered_at DOUBLE PRECISION NOT NULL
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS intake_recent_cases_lookup
        ON intake_recent_cases (citizen_ref, service_key, registered_at)
    """,
)


class RequestMismatch(Exception):
    """The key was used before with a request of another digest."""


@dataclass(frozen=True)
class RecentCase:
    """A case intake registered, remembered so that a follow-up about the same service links."""

    citizen_ref: str
    service_key: str
    case_id: str
    case_number: str
    registered_at: float  # epoch seconds


class IntakeStore(Protocol):
    async def claim(self, frontend: str, key: str, request_hash: str) -> bytes | None:
        """Start a call: returns the stored reply of a finished earlier call with this key, or
        None when the call must run. Raises RequestMismatch for a reused key."""

    async def complete(
        self,
        frontend: str,
        key: str,
        request_hash: str,
        response: bytes,
        recent: RecentCase | None = None,
    ) -> None:
        """Store the reply (and the new case for linking) in one transaction; a claim purged
        meanwhile is written afresh."""

    async def release(self, frontend: str, key: str) -> None:
        """Forget an unfinished call that was refused, so its key may carry a corrected request."""

    async def latest_case(
        self, citizen_ref: str, service_key: str, since: float
    ) -> RecentCase | None: ...

    async def purge(self, idempotency_before: float, recent_before: float) -> None: ...

    async def close(self) -> None: ...


async def open_store(url: str) -> IntakeStore:
    if url.startswith(("postgresql://", "postgres://")):
        from casedesk_intake.adapters.postgres_store import PostgresStore

        return await PostgresStore.open(url)
    if url.startswith("sqlite:///"):
        from casedesk_intake.adapters.sqlite_store import SqliteStore

        return await SqliteStore.open(url.removeprefix("sqlite:///"))
    raise ValueError("CASEDESK_DATABASE_URL must start with sqlite:/// or postgresql://")

"""The tables of intake's store, the same on SQLite and PostgreSQL (`{blob}`: the bytes type).

idempotency: one row per (frontend, key), with the request's digest and, once done, the reply.
recent cases: what a follow-up about the same service links to, by pseudonymous citizen.
"""

from __future__ import annotations

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

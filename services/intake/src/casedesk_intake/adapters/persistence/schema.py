"""The tables of intake's store, the same on SQLite and PostgreSQL (`{blob}`: the bytes type).

idempotency: one row per (frontend, key), with the request's digest and, once done, the reply.
recent cases: what a follow-up about the same service links to, by pseudonymous citizen.
access codes: the current one-time code of a case (its keyed hash), until when, and how many
wrong codes were tried against it.
sealing: since when what intake keeps of citizens is sealed (one row; application/sealing_guard.py).
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
        registered_at DOUBLE PRECISION NOT NULL,
        command_key TEXT NOT NULL DEFAULT ''
    )
    """,
    """
    CREATE INDEX IF NOT EXISTS intake_recent_cases_lookup
        ON intake_recent_cases (citizen_ref, service_key, registered_at)
    """,
    """
    CREATE TABLE IF NOT EXISTS intake_access_codes (
        case_number TEXT PRIMARY KEY,
        code_hash TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL,
        wrong_tries INTEGER NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS intake_sealing (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        since DOUBLE PRECISION NOT NULL
    )
    """,
)
# A store made before recent cases kept their command's key (the derived idempotency key, so a
# retry of the call that registered a case does not link that case to itself) gets the column;
# the cases it holds keep '' and expire with the link window.
COMMAND_KEY_COLUMN = "command_key"
ADD_COMMAND_KEY = (
    "ALTER TABLE intake_recent_cases ADD COLUMN {if_not_exists}command_key TEXT NOT NULL DEFAULT ''"
)

# The latest case about the service, as the call registering a case under `call_key` sees it:
# not its own case, nor one registered after it (then this is a retry, which must link as its
# first attempt did). Both lookups use the (citizen_ref, service_key, registered_at) index.
LATEST_CASE = """
    SELECT case_id, case_number, registered_at FROM intake_recent_cases
    WHERE citizen_ref = {p} AND service_key = {p} AND registered_at >= {p}
    ORDER BY registered_at DESC LIMIT 1
"""
LATEST_CASE_FOR_CALL = """
    SELECT case_id, case_number, registered_at FROM intake_recent_cases
    WHERE citizen_ref = {p} AND service_key = {p} AND registered_at >= {p} AND command_key <> {p}
    AND registered_at < COALESCE((
        SELECT min(registered_at) FROM intake_recent_cases
        WHERE citizen_ref = {p} AND service_key = {p} AND command_key = {p}
    ), 1e308)
    ORDER BY registered_at DESC LIMIT 1
"""


def latest_case_query(
    citizen_ref: str, service_key: str, since: float, call_key: str, p: str
) -> tuple[str, tuple[object, ...]]:
    """The statement (`p`: the driver's placeholder) and its parameters."""
    if not call_key:
        return LATEST_CASE.format(p=p), (citizen_ref, service_key, since)
    parameters = (citizen_ref, service_key, since, call_key, citizen_ref, service_key, call_key)
    return LATEST_CASE_FOR_CALL.format(p=p), parameters


# The first start with sealing on marks the store; later ones keep its time.
MARK_SEALED = "INSERT INTO intake_sealing (id, since) VALUES (1, {p}) ON CONFLICT (id) DO NOTHING"
SEALED_SINCE = "SELECT since FROM intake_sealing WHERE id = 1"

# A new code replaces the case's earlier one, and forgets its wrong tries.
ISSUE_CODE = """
    INSERT INTO intake_access_codes (case_number, code_hash, expires_at, wrong_tries)
    VALUES ({p}, {p}, {p}, 0)
    ON CONFLICT (case_number) DO UPDATE
    SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, wrong_tries = 0
"""
# Check and count in one statement (a row lock on PostgreSQL, the writer lock on SQLite), so
# concurrent tries, on any replica, are all counted. No row back: no code, expired or locked.
USE_CODE = """
    UPDATE intake_access_codes
    SET wrong_tries = wrong_tries + CASE WHEN code_hash = {p} THEN 0 ELSE 1 END
    WHERE case_number = {p} AND expires_at > {p} AND wrong_tries < {p}
    RETURNING code_hash = {p}
"""

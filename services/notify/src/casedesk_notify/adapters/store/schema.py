"""SQLite schema of notify's durable state, and how the connection is opened.

One database holds everything that must change together: the consumed offsets, the case cards,
the delivery states (the dedupe table) and the journal outbox. WAL lets the journal relay read
while the consumer writes; `synchronous=FULL` makes every commit survive a power cut, `NORMAL`
only a process crash (kill -9), at a fraction of the fsyncs.

Schema 2 added the delivery states `held`, `unknown`, `superseded`, `suppressed` and the count of
attempts with an unknown outcome; a schema-1 store is migrated when it is opened (SQLite cannot
change a CHECK constraint in place, so the deliveries table is rebuilt, in one transaction).
"""

from __future__ import annotations

import pathlib
import sqlite3
from typing import Literal

SCHEMA_VERSION = 2

OPEN_STATES = "('pending', 'held', 'unknown')"  # resumed after a restart

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consumed_offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS case_cards (
    case_id TEXT PRIMARY KEY,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    preference TEXT NOT NULL,
    first_response_due TEXT,
    resolution_due TEXT,
    tier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL
);
"""

_DELIVERIES = f"""
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL UNIQUE,
    source_event_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    case_version INTEGER NOT NULL,
    correlation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    sms_segments INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('pending', 'held', 'unknown', 'sent', 'dead', 'superseded', 'suppressed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    unknown_outcomes INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    retry_at TEXT,
    provider_message_id TEXT,
    finished_at TEXT,
    source_topic TEXT NOT NULL,
    source_partition INTEGER NOT NULL,
    source_offset INTEGER NOT NULL,
    source_key BLOB,
    source_value BLOB,
    source_headers TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (state) WHERE state IN {OPEN_STATES};
"""

# Schema 1's deliveries columns: everything but `unknown_outcomes`.
_V1_COLUMNS = (
    "seq, notification_id, source_event_id, case_id, case_version, correlation_id, channel, "
    "recipient, template, subject, body_text, body_html, sms_segments, state, attempts, "
    "last_error, retry_at, provider_message_id, finished_at, source_topic, source_partition, "
    "source_offset, source_key, source_value, source_headers"
)

_FROM_V1 = f"""
BEGIN IMMEDIATE;
DROP INDEX IF EXISTS deliveries_pending;
ALTER TABLE deliveries RENAME TO deliveries_v1;
{_DELIVERIES}
INSERT INTO deliveries ({_V1_COLUMNS}) SELECT {_V1_COLUMNS} FROM deliveries_v1;
DROP TABLE deliveries_v1;
PRAGMA user_version = 2;
COMMIT;
"""


def connect(
    path: pathlib.Path | str, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
) -> sqlite3.Connection:
    # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) where they matter.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA busy_timeout=5000")
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"notify store {path} has schema {version}, this build knows {SCHEMA_VERSION}"
        )
    if version == 1:
        connection.executescript(_FROM_V1)
    connection.executescript(_SCHEMA + _DELIVERIES)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return connection

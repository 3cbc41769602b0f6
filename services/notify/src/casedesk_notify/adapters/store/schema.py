"""SQLite schema of notify's durable state, and how the connection is opened.

One database holds everything that must change together: the consumed offsets, the case cards,
the delivery states (the dedupe table) and the journal outbox. WAL lets the journal relay read
while the consumer writes; `synchronous=FULL` makes every commit survive a power cut, `NORMAL`
only a process crash (kill -9), at a fraction of the fsyncs.
"""

from __future__ import annotations

import pathlib
import sqlite3
from typing import Literal

SCHEMA_VERSION = 1

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
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
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
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (state) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS journal_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL
);
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
    connection.executescript(_SCHEMA)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return connection

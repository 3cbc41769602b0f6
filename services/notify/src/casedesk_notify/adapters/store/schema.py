"""SQLite schema of notify's durable state, and how the connection is opened.

One database holds everything that must change together: the consumed offsets, the case cards,
the delivery states (the dedupe table) and the journal outbox. WAL lets the journal relay read
while the consumer writes; `synchronous=FULL` makes every commit survive a power cut, `NORMAL`
only a process crash (kill -9), at a fraction of the fsyncs.

Schema 2 added the delivery states `held`, `unknown`, `superseded`, `suppressed` and the count of
attempts with an unknown outcome; schema 3 the states `deferred` and `merged` (the reply window)
and whether a case's citizen has a portal account; schema 4 the way a case's answers go back
(the citizen's e-mail thread, his social-network post), the case a duplicate was merged into, and
an e-mail's threading headers. An older store is migrated when it is opened (SQLite cannot change
a CHECK constraint in place, so a schema 1 or 2 deliveries table is rebuilt, in one transaction;
schema 4's columns are added in place); the cards of cases registered before schema 3 count as
having an account, as every notice treated them before, and those before schema 4 have no way
back but e-mail and SMS notices (their answers go out unthreaded, as they did).

Added later within schema 4 (issue #18, tables and indexes created where missing, nothing
rewritten): `erased_keys`, the citizens' keys the key service announced erased (subject id and
the newest erased generation: pseudonyms, as in every token, never an identifier in clear), and
`erasure_feed`, the position in the key service's erasure journal notify has applied up to
(application.erasures); the indexes find a subject's cards and deliveries by their `sealed_by`.
"""

from __future__ import annotations

import pathlib
import sqlite3
from typing import Literal

SCHEMA_VERSION = 4

OPEN_STATES = "('pending', 'held', 'unknown', 'deferred')"  # resumed after a restart

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
    tier TEXT NOT NULL,
    portal_account INTEGER NOT NULL DEFAULT 1,
    thread_message_id TEXT NOT NULL DEFAULT '',
    thread_address TEXT NOT NULL DEFAULT '',
    thread_subject TEXT NOT NULL DEFAULT '',
    social_network TEXT NOT NULL DEFAULT '',
    social_reference TEXT NOT NULL DEFAULT '',
    social_private INTEGER NOT NULL DEFAULT 0,
    merged_into TEXT NOT NULL DEFAULT '',
    sealed_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS journal_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erased_keys (
    subject TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS erasure_feed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS case_cards_sealed_by
    ON case_cards (substr(sealed_by, 1, 32)) WHERE sealed_by != '';
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
    state TEXT NOT NULL CHECK (state IN ('pending', 'held', 'unknown', 'deferred', 'sent',
        'dead', 'superseded', 'suppressed', 'merged')),
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
    source_headers TEXT,
    in_reply_to TEXT,
    references_header TEXT,
    sealed_by TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS deliveries_open ON deliveries (state) WHERE state IN {OPEN_STATES};
CREATE INDEX IF NOT EXISTS deliveries_deferred ON deliveries (case_id) WHERE state = 'deferred';
CREATE INDEX IF NOT EXISTS deliveries_case ON deliveries (case_id);
CREATE INDEX IF NOT EXISTS deliveries_sealed_by
    ON deliveries (substr(sealed_by, 1, 32)) WHERE sealed_by != '';
"""

# The deliveries columns of schema 1, and of schema 2 (which added `unknown_outcomes`).
_V1_COLUMNS = (
    "seq, notification_id, source_event_id, case_id, case_version, correlation_id, channel, "
    "recipient, template, subject, body_text, body_html, sms_segments, state, attempts, "
    "last_error, retry_at, provider_message_id, finished_at, source_topic, source_partition, "
    "source_offset, source_key, source_value, source_headers"
)
_V2_COLUMNS = _V1_COLUMNS + ", unknown_outcomes"


_OLD_COLUMNS = {1: _V1_COLUMNS, 2: _V2_COLUMNS}


def _migration(connection: sqlite3.Connection, version: int) -> str:
    """An older store -> this schema, in one transaction: the deliveries table rebuilt (rows and
    sequence kept), the cards' new column. The old indexes go first: their names, travelling
    with the renamed table, would keep the new ones from being created."""
    columns = _OLD_COLUMNS[version]
    cards = {row[1] for row in connection.execute("PRAGMA table_info(case_cards)")}
    add_column = (
        "ALTER TABLE case_cards ADD COLUMN portal_account INTEGER NOT NULL DEFAULT 1;"
        if cards and "portal_account" not in cards
        else ""
    )
    return f"""
BEGIN IMMEDIATE;
DROP INDEX IF EXISTS deliveries_pending;
DROP INDEX IF EXISTS deliveries_open;
DROP INDEX IF EXISTS deliveries_deferred;
ALTER TABLE deliveries RENAME TO deliveries_old;
{_DELIVERIES}
INSERT INTO deliveries ({columns}) SELECT {columns} FROM deliveries_old;
DROP TABLE deliveries_old;
{add_column}
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""


# Schema 4's columns, added to a store of schema 3 (or to a rebuilt older one) where missing.
_ADDED_IN_4 = {
    "case_cards": (
        ("thread_message_id", "TEXT NOT NULL DEFAULT ''"),
        ("thread_address", "TEXT NOT NULL DEFAULT ''"),
        ("thread_subject", "TEXT NOT NULL DEFAULT ''"),
        ("social_network", "TEXT NOT NULL DEFAULT ''"),
        ("social_reference", "TEXT NOT NULL DEFAULT ''"),
        ("social_private", "INTEGER NOT NULL DEFAULT 0"),
        ("merged_into", "TEXT NOT NULL DEFAULT ''"),
        # Added later within schema 4 (issue #18): the key a card's sealed fields name.
        ("sealed_by", "TEXT NOT NULL DEFAULT ''"),
    ),
    "deliveries": (
        ("in_reply_to", "TEXT"),
        ("references_header", "TEXT"),
        # Added later within schema 4 (issue #18): the key an open delivery's personal columns
        # are sealed with ("" in clear).
        ("sealed_by", "TEXT NOT NULL DEFAULT ''"),
    ),
}


def _added_columns(connection: sqlite3.Connection) -> str:
    """ALTER statements for the schema 4 columns an existing store lacks."""
    statements = []
    for table, columns in _ADDED_IN_4.items():
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if not present:
            continue  # created whole by _SCHEMA below
        statements += [
            f"ALTER TABLE {table} ADD COLUMN {name} {kind};"
            for name, kind in columns
            if name not in present
        ]
    return "\n".join(statements)


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
    if version in _OLD_COLUMNS:
        connection.executescript(_migration(connection, version))
    if added := _added_columns(connection):
        connection.executescript(
            f"BEGIN IMMEDIATE;\n{added}\nPRAGMA user_version = {SCHEMA_VERSION};\nCOMMIT;"
        )
    connection.executescript(_SCHEMA + _DELIVERIES)
    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return connection

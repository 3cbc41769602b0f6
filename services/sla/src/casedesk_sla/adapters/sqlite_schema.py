"""The SQLite schema of the SLA store: one row per case holding both of its clocks."""

from __future__ import annotations

import sqlite3

from casedesk_sla.domain.rows import CASE_FIELDS
from casedesk_sla.domain.table import ClockTable

# Per case, named after the row's fields (domain.rows): NULL trace_context when none, '' category
# when none.
CASE_COLUMNS = CASE_FIELDS
# Per clock, named after the table's columns; instants and amounts are in microseconds.
CLOCK_COLUMNS = ClockTable.CLOCK_FIELDS
TARGET_PREFIXES = ("fr_", "rs_")  # first response, resolution

_CLOCKS = ",\n    ".join(f"{p}{c} INTEGER NOT NULL" for p in TARGET_PREFIXES for c in CLOCK_COLUMNS)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sla_case (
    case_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    tier TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    case_version INTEGER NOT NULL,
    trace_context BLOB,
    correlation_id TEXT,
    {_CLOCKS}
) WITHOUT ROWID;
-- Cases whose clocks all ended: kept so a redelivered Created cannot start them again.
CREATE TABLE IF NOT EXISTS sla_retired (case_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sla_offset (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    event_time INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS sla_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload BLOB NOT NULL,
    traceparent TEXT
);
"""


def upgrade(db: sqlite3.Connection) -> None:
    """Create the schema, or bring a store written by an earlier release up to date."""
    db.executescript(SCHEMA)
    case_columns = {row[1] for row in db.execute("PRAGMA table_info(sla_case)")}
    # Clocks stored before warnings and breaches kept their cause's trace or correlation id have
    # NULL there: they fire without one, as they would have before.
    # Clocks stored before policies had category targets started on their channel's targets: ''
    # (no category) keeps them on those, whichever policy version they run under.
    for column, kind in (
        ("trace_context", "BLOB"),
        ("correlation_id", "TEXT"),
        ("category", "TEXT NOT NULL DEFAULT ''"),
    ):
        if column not in case_columns:
            db.execute(f"ALTER TABLE sla_case ADD COLUMN {column} {kind}")

"""The SQLite schema of the SLA store: one row per case holding both of its clocks."""

from __future__ import annotations

import sqlite3

from casedesk_sla.domain.table import ClockTable

# `trace_context`: the packed W3C context of the event that set the clocks running (NULL if none).
CASE_COLUMNS = ("case_id", "channel", "tier", "policy_version", "case_version", "trace_context")
# Per clock, named after the table's columns; instants and amounts are in microseconds.
CLOCK_COLUMNS = ClockTable.CLOCK_FIELDS
TARGET_PREFIXES = ("fr_", "rs_")  # first response, resolution

_CLOCKS = ",\n    ".join(f"{p}{c} INTEGER NOT NULL" for p in TARGET_PREFIXES for c in CLOCK_COLUMNS)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sla_case (
    case_id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    tier TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    case_version INTEGER NOT NULL,
    trace_context BLOB,
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
    if "trace_context" not in case_columns:
        # Clocks stored before warnings and breaches kept their trace: they fire without one.
        db.execute("ALTER TABLE sla_case ADD COLUMN trace_context BLOB")

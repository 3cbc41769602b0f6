"""The SQLite schema of the SLA store: one row per case holding both of its clocks."""

from __future__ import annotations

from casedesk_sla.domain.table import ClockTable

CASE_COLUMNS = ("case_id", "channel", "tier", "policy_version", "case_version")
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

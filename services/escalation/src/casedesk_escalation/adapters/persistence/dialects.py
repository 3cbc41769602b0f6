"""The two databases the decision store runs on: an SQLite file (embedded default) or PostgreSQL.

The store speaks plain DB-API 2.0 with `?` placeholders; a dialect supplies the connection, the
schema and the few statements that differ.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_TABLES = """
CREATE TABLE IF NOT EXISTS escalation_offsets (
    consumer_group TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition_id INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition_id)
);
CREATE TABLE IF NOT EXISTS escalation_cases (
    case_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS escalation_decisions (
    seq {identity},
    decision_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    record {blob} NOT NULL,
    command {blob},
    trace_context TEXT NOT NULL DEFAULT '',
    published BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS escalation_decisions_unsent
    ON escalation_decisions (seq) WHERE command IS NOT NULL;
CREATE INDEX IF NOT EXISTS escalation_decisions_unpublished
    ON escalation_decisions (seq) WHERE NOT published;
"""


@dataclass(frozen=True)
class Dialect:
    name: str
    connect: Callable[[], Any]
    schema: tuple[str, ...]
    # Statement opening a write transaction, or None where the driver opens one implicitly.
    begin: str | None
    # Statements run before the schema, inside its transaction (e.g. serialising replicas).
    before_schema: tuple[str, ...] = ()
    placeholder: str = "?"

    def sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)


def _statements(identity: str, blob: str) -> tuple[str, ...]:
    text = _TABLES.format(identity=identity, blob=blob)
    return tuple(s.strip() for s in text.split(";") if s.strip())


def sqlite_dialect(path: str) -> Dialect:
    def connect() -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly with BEGIN IMMEDIATE, so a write
        # never upgrades a read lock halfway through.
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed batch survives a power cut, not only a kill -9.
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA busy_timeout=5000")
        return connection

    return Dialect(
        name="sqlite",
        connect=connect,
        schema=_statements("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"),
        begin="BEGIN IMMEDIATE",
    )


def postgres_dialect(conninfo: dict[str, Any]) -> Dialect:
    import psycopg  # imported here: SQLite deployments never load the driver

    def connect() -> Any:
        return psycopg.connect(**conninfo, autocommit=False)

    return Dialect(
        name="postgres",
        connect=connect,
        schema=_statements("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA"),
        begin=None,
        # Two replicas starting together would race on CREATE TABLE IF NOT EXISTS.
        before_schema=("SELECT pg_advisory_xact_lock(7341566012)",),
        placeholder="%s",
    )

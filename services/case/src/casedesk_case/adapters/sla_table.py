"""The `case_sla` table's definition (application/timeline.py's contract), in one place.

Written by the case timeline (adapters/timeline), read by the case index's deadline order (a join
on case_id), and created by whichever of them starts first: the statement is idempotent and the
same in SQLite and PostgreSQL.
"""

from __future__ import annotations


def sla_table_statements(table: str) -> list[str]:
    """`table` as the caller qualifies it (`"schema".case_sla` on PostgreSQL)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {table} (case_id TEXT PRIMARY KEY, target TEXT NOT NULL, "
        "state TEXT NOT NULL, due_us BIGINT NULL, started_us BIGINT NULL, "
        "updated_us BIGINT NOT NULL)",
    ]

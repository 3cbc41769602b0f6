"""The case index on PostgreSQL: the shared SQL, with a batch written in three statements.

The shared `write` upserts row by row (executemany); on PostgreSQL a batch of rows, and of load
changes, goes instead as columns of binary arrays into one INSERT ... SELECT FROM unnest(...)
ON CONFLICT each: less work for the client and for the server alike. Rows in one batch have
distinct case ids, as ON CONFLICT DO UPDATE requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL

from casedesk_case.adapters.readmodel.erased_keys import (
    ERASED_TABLE,
    TERMS_ADDED_COLUMNS,
    add_terms_unnest_statement,
)
from casedesk_case.adapters.readmodel.queries import TERMS_TABLE
from casedesk_case.adapters.readmodel.sql import (
    ADDED_COLUMNS,
    COLUMNS,
    SEALING_TABLE,
    SqlCaseIndex,
    index_statements,
    row_values,
    schema_statements,
)
from casedesk_case.application.timeline import SLA_TABLE
from casedesk_case.application.views import CaseSummary, CaseTerm

# PostgreSQL types of COLUMNS, in their order.
_TYPES = ("text", "text", "int8") + ("text",) * 7 + ("int8", "int8", "text", "text", "int8")


class PostgresCaseIndex(SqlCaseIndex, PostgresTrackingRecorder):
    placeholder = "%s"
    # The planner takes a case's clock and its row for independent, so it expects few open
    # cases among the running clocks (they are the same cases) and, with the default cost of a
    # random read (a disk's), sorts every open case of a queue for each page (15-30 ms at
    # 10,000) instead of walking the running deadlines in order (about 2 ms). The index is read
    # from memory: an SSD's cost, for this transaction only.
    deadline_settings = ("SET LOCAL random_page_cost = 1.1",)

    def __init__(self, datastore: Any, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = self.datastore.schema
        self.cases_table = f'"{schema}".case_index'
        self.loads_table = f'"{schema}".case_specialist_load'
        self.sla_table = f'"{schema}".{SLA_TABLE}'
        self.terms_table = f'"{schema}".{TERMS_TABLE}'
        self.erased_table = f'"{schema}".{ERASED_TABLE}'
        self.sealing_table = f'"{schema}".{SEALING_TABLE}'
        statements = [
            *schema_statements(
                self.cases_table,
                self.loads_table,
                self.sla_table,
                self.terms_table,
                self.erased_table,
                self.sealing_table,
            ),
            *(
                _add_column(schema, "case_index", self.cases_table, name, definition)
                for name, definition in ADDED_COLUMNS.items()
            ),
            *(
                _add_column(schema, TERMS_TABLE, self.terms_table, name, definition)
                for name, definition in TERMS_ADDED_COLUMNS.items()
            ),
            *index_statements(self.cases_table, self.sla_table, self.terms_table),
        ]
        self.sql_create_statements.extend(
            SQL(statement)  # type: ignore[arg-type,misc]
            for statement in statements
        )
        arrays = ", ".join(f"%b::{t}[]" for t in _TYPES)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        self._upsert_rows = (
            f"INSERT INTO {self.cases_table} ({', '.join(COLUMNS)}) "
            f"SELECT * FROM unnest({arrays}) ON CONFLICT (case_id) DO UPDATE SET {updates}"
        )
        self._add_terms_all = add_terms_unnest_statement(self.terms_table, self.erased_table)
        self._add_loads = (
            f"INSERT INTO {self.loads_table} (specialist_id, open_cases) "
            "SELECT * FROM unnest(%b::text[], %b::int8[]) ON CONFLICT (specialist_id) "
            f"DO UPDATE SET open_cases = {self.loads_table}.open_cases + excluded.open_cases"
        )

    def write(
        self,
        rows: Sequence[CaseSummary],
        load_changes: Mapping[str, int],
        tracking: Tracking,
        terms: Sequence[CaseTerm] = (),
    ) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            # The position first: if another projector is ahead, nothing else is written.
            self._insert_tracking(cursor, tracking)
            if rows:
                columns = [list(c) for c in zip(*(row_values(r) for r in rows), strict=True)]
                cursor.execute(self._upsert_rows, columns, prepare=True)
            if load_changes:
                cursor.execute(
                    self._add_loads, [list(load_changes), list(load_changes.values())], prepare=True
                )
            if terms:
                # Waits for an erasure being remembered, and holds the next one until this
                # batch is committed (erased_keys.py).
                cursor.execute(f"LOCK TABLE {self.erased_table} IN SHARE MODE")
                self._add_terms(cursor, terms)

    def _add_terms(self, cursor: Any, terms: Sequence[CaseTerm]) -> None:
        """One statement for the batch's terms (three per new case of a citizen with SNILS,
        phone and e-mail: row by row they were a statement each), guarded as on SQLite."""
        columns = [
            [t.term for t in terms], [t.case_id for t in terms], [t.kind for t in terms],
            [t.subject for t in terms], [t.generation for t in terms],
        ]  # fmt: skip
        cursor.execute(self._add_terms_all, columns, prepare=True)

    def _tracking_table(self) -> str:
        return f'"{self.datastore.schema}".{self.tracking_table_name}'


def _add_column(schema: str, table_name: str, table: str, name: str, definition: str) -> str:
    """An index made before a column was added gets it (its rows hold the column's default until
    rebuilt). Looked up first: ALTER TABLE would queue for an exclusive lock behind every running
    read at each start, and every read behind it."""
    return (
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns "
        f"WHERE table_schema = '{schema}' AND table_name = '{table_name}' "
        f"AND column_name = '{name}') THEN ALTER TABLE {table} ADD COLUMN {definition}; "
        "END IF; END $$"
    )

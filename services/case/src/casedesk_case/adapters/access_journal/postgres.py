"""The access journal on PostgreSQL: the shared SQL, a table lock per append, guard triggers."""

from __future__ import annotations

from typing import Any

from casedesk_case.adapters.access_journal.sql import (
    APPEND_ONLY,
    SqlAccessJournal,
    index_statements,
    table_statement,
)

# Appenders wait at most this long for each other before the read fails (and is retried by the
# caller): a journal that cannot be written must not let reads through unrecorded.
LOCK_TIMEOUT = "5s"


class PostgresAccessJournal(SqlAccessJournal):
    placeholder = "%s"

    def __init__(self, datastore: Any) -> None:
        super().__init__(datastore)
        self.schema = datastore.schema
        self.table = f'"{self.schema}".case_access_journal'

    def create_statements(self) -> list[str]:
        function = f'"{self.schema}".case_access_journal_append_only'
        lock_name = f"{self.schema}.case_access_journal".replace("'", "''")
        return [
            # Replicas starting together would otherwise replace the function and triggers at
            # once, and PostgreSQL refuses concurrent catalog updates ("tuple concurrently
            # updated"): one at a time, for this transaction.
            f"SELECT pg_advisory_xact_lock(hashtext('{lock_name}'))",
            table_statement(self.table),
            *index_statements(self.table),
            f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$BODY$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END; $BODY$",
            f"CREATE OR REPLACE TRIGGER case_access_journal_no_change BEFORE UPDATE OR DELETE "
            f"ON {self.table} FOR EACH ROW EXECUTE FUNCTION {function}()",
            f"CREATE OR REPLACE TRIGGER case_access_journal_no_truncate BEFORE TRUNCATE "
            f"ON {self.table} FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]

    def _lock(self, cursor: Any) -> None:
        # SHARE ROW EXCLUSIVE conflicts with itself, not with readers: appenders queue, and
        # auditors' queries go on.
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"LOCK TABLE {self.table} IN SHARE ROW EXCLUSIVE MODE")

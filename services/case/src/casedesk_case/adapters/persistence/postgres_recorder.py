"""The case service's PostgreSQL event recorder: eventsourcing's, with far cheaper writes.

Its reads are in postgres_reads.py (the base class).

Same table, same lock (one writer at a time, so that notification ids follow commit order), same
NOTIFY, same results. What changes is the client-side CPU per save, which decides how many
commands one process serves:

- eventsourcing passes a save's events as an array of a composite type, which psycopg dumps as
  text field by field in Python, the state (bytea) hex-encoded: about 35 µs per event. Here the
  same INSERT ... RETURNING notification_id takes four plain arrays in binary format (ids,
  versions, topics, states): about 3 µs per event.
- eventsourcing runs each save as a pipelined transaction of five statements: about 450 µs of
  Python per transaction. Here one call of a database function does the same (lock, notify,
  insert) in one statement: about 130 µs. The function is created with the tables (it names this
  application's table, hence its name); where tables are not created by the application and the
  function is missing, saves fall back to the pipelined transaction.

Selected by `CaseStoreSetup` through eventsourcing's own APPLICATION_RECORDER_TOPIC variable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from casedesk_case.adapters.persistence.postgres_reads import PostgresReads, composed

_ARRAYS = "%b::{id_type}[], %b::int8[], %b::text[], %b::bytea[]"


class CasePostgresRecorder(PostgresReads):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        id_type = SQL(datastore.originator_id_type)
        function = SQL("{0}.{1}").format(
            Identifier(datastore.schema), Identifier(f"{events_table_name}_insert")
        )
        self._function_signature = composed(
            SQL("{0}({1}[], int8[], text[], bytea[], text)").format(function, id_type)
        ).decode()
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {function}("
                "ids {id_type}[], versions int8[], topics text[], states bytea[], "
                "lock_timeout text) RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
                "BEGIN "
                "PERFORM set_config('lock_timeout', lock_timeout, true); "
                "LOCK TABLE {table} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {table} (originator_id, originator_version, topic, "
                "state) SELECT * FROM unnest(ids, versions, topics, states) "
                "RETURNING notification_id; "
                "END; $BODY$"
            ).format(
                function=function,
                id_type=id_type,
                table=self._table,
                channel=Identifier(self.channel_name),
            )
        )
        self._call_function = composed(
            SQL("SELECT notification_id FROM {0}(" + _ARRAYS + ", %s) AS notification_id").format(
                function, id_type=id_type
            )
        )
        self._lock_timeout = f"{datastore.lock_timeout}s"
        self._has_function: bool | None = None  # None: not known yet
        # The pipelined fallback: the library's transaction with this INSERT.
        self.lock_table_statements = [composed(s) for s in self.lock_table_statements]
        self._notify = composed(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))
        self._insert = composed(
            SQL(
                "INSERT INTO {table} (originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(" + _ARRAYS + ") RETURNING notification_id"
            ).format(table=self._table, id_type=id_type)
        )

    def create_table(self) -> None:
        super().create_table()
        self._has_function = True

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events or not self._function_exists():
            return super().insert_events(stored_events, **kwargs)
        return self._insert_with_function(stored_events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_with_function(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        # One statement in autocommit mode: the lock is held until it commits.
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(self._call_function, (*_columns(stored_events), self._lock_timeout))
            return [row["notification_id"] for row in curs.fetchall()]

    def _function_exists(self) -> bool:
        if self._has_function is None:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute("SELECT to_regprocedure(%s) IS NOT NULL AS found", [
                    self._function_signature
                ])  # fmt: skip
                row = curs.fetchone()
                self._has_function = bool(row and row["found"])
        return self._has_function

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        curs.execute(self._notify)
        curs.execute(self._insert, _columns(stored_events), prepare=True)


def _columns(stored_events: Sequence[StoredEvent]) -> tuple[list[Any], ...]:
    return (
        [e.originator_id for e in stored_events],
        [e.originator_version for e in stored_events],
        [e.topic for e in stored_events],
        [e.state for e in stored_events],
    )

"""Reading the case service's events from PostgreSQL more cheaply than eventsourcing does.

The read half of `CasePostgresRecorder` (postgres_recorder.py), its base class.

Same queries and results as eventsourcing's recorder, but each statement variant is composed once
(eventsourcing composes its statements anew on every call, and psycopg converts them every time)
and rows are read in binary format, so states arrive as bytes without hex decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


class PostgresReads(PostgresApplicationRecorder):
    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self._table = SQL("{0}.{1}").format(
            Identifier(datastore.schema), Identifier(events_table_name)
        )
        self._statements: dict[tuple[Any, ...], bytes] = {}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        key = ("events", gt is not None, lte is not None, desc, limit is not None)
        statement = self._statements.get(key) or self._compose_select_events(key)
        params = [originator_id, *(p for p in (gt, lte, limit) if p is not None)]
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(statement, params, prepare=True)
            return [
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in curs.fetchall()
            ]

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        key = ("log", start is not None, inclusive_of_start, stop is not None, bool(topics))
        statement = self._statements.get(key) or self._compose_select_notifications(key)
        params: list[Any] = [p for p in (start, stop) if p is not None]
        if topics:
            params.append(list(topics))
        params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor(binary=True) as curs:
            curs.execute(statement, params, prepare=True)
            return [
                Notification(
                    id=row["notification_id"],
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                for row in curs.fetchall()
            ]

    def _compose_select_events(self, key: tuple[Any, ...]) -> bytes:
        _, gt, lte, desc, limit = key
        conditions = ["originator_id = %s"]
        conditions += ["originator_version > %s"] * gt + ["originator_version <= %s"] * lte
        order = "DESC" if desc else "ASC"
        statement = SQL(
            f"SELECT * FROM {{0}} WHERE {' AND '.join(conditions)} "
            f"ORDER BY originator_version {order}{' LIMIT %s' if limit else ''}"
        ).format(self._table)
        self._statements[key] = sql = composed(statement)
        return sql

    def _compose_select_notifications(self, key: tuple[Any, ...]) -> bytes:
        _, start, inclusive, stop, topics = key
        conditions = [f"notification_id {'>=' if inclusive else '>'} %s"] * start
        conditions += ["notification_id <= %s"] * stop + ["topic = ANY(%s)"] * topics
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        statement = SQL(f"SELECT * FROM {{0}}{where} ORDER BY notification_id LIMIT %s").format(
            self._table
        )
        self._statements[key] = sql = composed(statement)
        return sql


def composed(statement: Any) -> bytes:
    """A statement composed once, as psycopg sends it (it caches conversions of bytes)."""
    return statement if isinstance(statement, bytes) else bytes(statement.as_bytes(None))

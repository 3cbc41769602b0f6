"""A lease on a follower of the event store, held as a PostgreSQL session advisory lock.

Every replica of the case service on one PostgreSQL schema would otherwise run its own outbox
relay (and case index projector) over the same notification log: each batch published by all
of them. The replica that holds the lease follows; the others stand by (`leased.LeasedFollower`).

The lock is taken with `pg_try_advisory_lock` on a connection of its own, outside the pool, and
held for as long as that session lives: when the holder dies (kill -9, a lost node), PostgreSQL
ends its session and releases the lock, and a standby takes it at its next try. A session whose
peer vanished without closing its socket (a network cut) is ended by TCP keepalives within about
ten seconds, set on both ends of the connection. The key is derived from the schema and the name
of the position the follower records, so two deployments sharing a database (each on its own
schema, as the tests run) do not share a lease.

Who holds a lease is visible in PostgreSQL: the lease's connection is named
`casedesk-case lease <holder>` (`application_name` in `pg_stat_activity`), and `holder()` reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from typing import Any

import psycopg

APPLICATION_NAME = "casedesk-case lease"
# Dead peers are found within idle + interval x count seconds, by PostgreSQL and by this client.
KEEPALIVE = {"idle": 5, "interval": 2, "count": 3}
CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 5000

_HELD = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND classid::int8 = %s AND objid::int8 = %s AND objsubid = 1)"
)
_HOLDER = (
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::int8 = %s "
    "AND l.objid::int8 = %s AND l.objsubid = 1"
)


def replica_name() -> str:
    """This process as its logs and the lease's connection name it: the host (a pod's name)
    and the process id."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def lease_key(schema: str, position_name: str) -> int:
    """The advisory lock's bigint key for the follower recording `position_name` in `schema`."""
    digest = hashlib.sha256(f"casedesk:{schema}:{position_name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLease:
    """One follower's lease on the database of an eventsourcing `PostgresDatastore`.

    Blocking calls (run them in a thread); each raises psycopg errors only from `take`, which
    then drops its connection so that the next try opens a fresh one.
    """

    def __init__(self, datastore: Any, position_name: str, holder: str | None = None) -> None:
        self.name = position_name
        self.holder_name = holder or replica_name()
        self.key = lease_key(datastore.schema, position_name)
        # pg_locks shows a bigint key as its high and low 32 bits, each an unsigned oid.
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        self._lock_ids = (unsigned >> 32, unsigned & 0xFFFF_FFFF)
        self._pool = datastore.pool
        self._connection: psycopg.Connection[Any] | None = None

    def take(self) -> bool:
        """True when this session holds the lease now, False when another one does."""
        try:
            connection = self._connect()
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
        except psycopg.Error:
            self._drop()
            raise
        return bool(row and row[0])

    def still_held(self) -> bool:
        """Whether the lease's session is alive and holds the lock (False on any error)."""
        if self._connection is None:
            return False
        try:
            row = self._connection.execute(_HELD, self._lock_ids).fetchone()
        except psycopg.Error:
            self._drop()
            return False
        return bool(row and row[0])

    def holder(self) -> str | None:
        """Who holds the lease now (its connection's name), None when nobody or unknown."""
        try:
            connection = self._connect()
            row = connection.execute(_HOLDER, self._lock_ids).fetchone()
        except psycopg.Error:
            self._drop()
            return None
        return str(row[0]).removeprefix(APPLICATION_NAME).strip() if row else None

    def give_up(self) -> None:
        """Release the lease (if held) and close its connection."""
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):  # a dead session holds nothing any more
                self._connection.execute("SELECT pg_advisory_unlock_all()")
        self._drop()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is not None and not self._connection.closed:
            return self._connection
        parameters = {k: v for k, v in self._pool.kwargs.items() if k != "row_factory"}
        password = getattr(self._pool, "get_password_func", None)
        if password is not None:
            parameters["password"] = password()
        connection = psycopg.connect(
            self._pool.conninfo,
            autocommit=True,
            application_name=f"{APPLICATION_NAME} {self.holder_name}"[:63],
            connect_timeout=CONNECT_TIMEOUT_S,
            keepalives=1,
            keepalives_idle=KEEPALIVE["idle"],
            keepalives_interval=KEEPALIVE["interval"],
            keepalives_count=KEEPALIVE["count"],
            **parameters,
        )
        # The server's end: its keepalives end the session of a holder that vanished.
        for setting, value in KEEPALIVE.items():
            connection.execute(f"SET tcp_keepalives_{setting} = {int(value)}")
        connection.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        self._connection = connection
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

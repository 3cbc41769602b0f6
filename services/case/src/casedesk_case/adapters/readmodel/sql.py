"""The case index in SQL, in the application's own SQLite or PostgreSQL database.

One SQL dialect serves both (upserts with ON CONFLICT, keyset paging on registered time and id);
only placeholders, table qualification and the tracking table differ. PostgreSQL's subclass, with
its faster batch write, is in postgres.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from casedesk_case.adapters.readmodel.page_tokens import decode_page_token, encode_page_token
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.views import CaseFilter, CasePage, CaseSummary
from casedesk_case.domain.values import Channel, Status, Tier
from casedesk_vocabulary.moscow import from_micros, to_micros

COLUMNS = (
    "case_id", "number", "version", "status", "channel", "queue", "assignee", "tier", "subject",
    "citizen_login", "registered_us", "updated_us",
)  # fmt: skip


def schema_statements(cases: str, loads: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {cases} (case_id TEXT PRIMARY KEY, number TEXT NOT NULL, "
        "version BIGINT NOT NULL, status TEXT NOT NULL, channel TEXT NOT NULL, "
        "queue TEXT NOT NULL, assignee TEXT NOT NULL, tier TEXT NOT NULL, subject TEXT NOT NULL, "
        "citizen_login TEXT NOT NULL, registered_us BIGINT NOT NULL, updated_us BIGINT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS case_index_newest ON {cases} (registered_us, case_id)",
        f"CREATE INDEX IF NOT EXISTS case_index_citizen ON {cases} (citizen_login, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_assignee ON {cases} (assignee, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_queue ON {cases} (queue, status, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_status ON {cases} (status, registered_us)",
        f"CREATE TABLE IF NOT EXISTS {loads} (specialist_id TEXT PRIMARY KEY, "
        "open_cases BIGINT NOT NULL)",
    ]


class SqlCaseIndex(CaseIndex):
    """Queries shared by both databases; written with `?` placeholders."""

    datastore: Any
    _insert_tracking: Any  # the database's tracking recorder provides it
    placeholder = "?"
    cases_table = "case_index"
    loads_table = "case_specialist_load"

    def _sql(self, statement: str) -> Any:
        return statement.replace("?", self.placeholder)

    def rows(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        ids = list(case_ids)
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        statement = f"SELECT * FROM {self.cases_table} WHERE case_id IN ({marks})"
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), ids)
            return {row["case_id"]: _summary(row) for row in cursor.fetchall()}

    def write(
        self, rows: Sequence[CaseSummary], load_changes: Mapping[str, int], tracking: Tracking
    ) -> None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
        upsert_row = (
            f"INSERT INTO {self.cases_table} ({', '.join(COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT (case_id) DO UPDATE SET {updates}"
        )
        add_load = (
            f"INSERT INTO {self.loads_table} (specialist_id, open_cases) VALUES (?, ?) "
            f"ON CONFLICT (specialist_id) DO UPDATE "
            f"SET open_cases = {self.loads_table}.open_cases + excluded.open_cases"
        )
        with self.datastore.transaction(commit=True) as cursor:
            # The position first: if another projector is ahead, nothing else is written.
            self._insert_tracking(cursor, tracking)
            if rows:
                cursor.executemany(self._sql(upsert_row), [row_values(r) for r in rows])
            if load_changes:
                cursor.executemany(self._sql(add_load), list(load_changes.items()))

    def search(self, criteria: CaseFilter, limit: int, page_token: str) -> CasePage:
        where, params = _conditions(criteria)
        after = decode_page_token(page_token)
        if after is not None:
            where.append("(registered_us < ? OR (registered_us = ? AND case_id < ?))")
            params += [after[0], after[0], after[1]]
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        statement = (
            f"SELECT * FROM {self.cases_table} {clause}"
            "ORDER BY registered_us DESC, case_id DESC LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), [*params, limit + 1])
            found = [_summary(row) for row in cursor.fetchall()]
        page = found[:limit]
        return CasePage(page, encode_page_token(page[-1]) if len(found) > limit else "")

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        if not specialist_ids:
            return {}
        marks = ", ".join("?" * len(specialist_ids))
        statement = (
            f"SELECT specialist_id, open_cases FROM {self.loads_table} "
            f"WHERE specialist_id IN ({marks}) AND open_cases > 0"
        )
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), list(specialist_ids))
            return {row["specialist_id"]: int(row["open_cases"]) for row in cursor.fetchall()}

    def reset(self, tracking_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {self.cases_table}")
            cursor.execute(f"DELETE FROM {self.loads_table}")
            cursor.execute(
                self._sql(f"DELETE FROM {self._tracking_table()} WHERE application_name = ?"),
                [tracking_name],
            )

    def _tracking_table(self) -> str:
        raise NotImplementedError


class SQLiteCaseIndex(SqlCaseIndex, SQLiteTrackingRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        return [*statements, *schema_statements(self.cases_table, self.loads_table)]

    def _tracking_table(self) -> str:
        return "tracking"


def row_values(row: CaseSummary) -> tuple[object, ...]:
    return (
        row.case_id, row.number, row.version, row.status.value, row.channel.value, row.queue,
        row.assignee, row.tier.value, row.subject, row.citizen_login,
        to_micros(row.registered_at), to_micros(row.updated_at),
    )  # fmt: skip


def _summary(row: Any) -> CaseSummary:
    return CaseSummary(
        case_id=row["case_id"],
        number=row["number"],
        version=int(row["version"]),
        status=Status(row["status"]),
        channel=Channel(row["channel"]),
        queue=row["queue"],
        assignee=row["assignee"],
        tier=Tier(row["tier"]),
        subject=row["subject"],
        citizen_login=row["citizen_login"],
        registered_at=from_micros(int(row["registered_us"])),
        updated_at=from_micros(int(row["updated_us"])),
    )


def _conditions(criteria: CaseFilter) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    for column, value in (
        ("citizen_login", criteria.citizen_login),
        ("status", criteria.status.value if criteria.status else ""),
        ("queue", criteria.queue),
        ("assignee", criteria.assignee),
        ("channel", criteria.channel.value if criteria.channel else ""),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    return where, params

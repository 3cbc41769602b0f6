"""The case index in SQL, in the application's own SQLite or PostgreSQL database.

One SQL dialect serves both (upserts with ON CONFLICT, keyset paging with row values); only
placeholders, table qualification, the tracking table and how a missing column is added differ.
PostgreSQL's subclass, with its faster batch write, is in postgres.py; the queries are in
queries.py.

Each case's SLA clock is read from the case timeline's `case_sla` table (application/timeline.py,
its DDL in adapters/sla_table.py) by a join on the case id: the index creates that table too, so
its reads work before the timeline's consumer first runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder

from casedesk_case.adapters.readmodel.erased_keys import (
    ERASED_TABLE,
    TERMS_ADDED_COLUMNS,
    add_term_statement,
    delete_terms_statement,
    erased_table_statement,
    erasure_position_statement,
    remember_erasure_statement,
    subject_index_statement,
)
from casedesk_case.adapters.readmodel.page_tokens import encode_page_token
from casedesk_case.adapters.readmodel.queries import (
    TERMS_TABLE,
    clock_runs,
    clocks_statement,
    desk_load_statements,
    search_statements,
    summaries_statement,
)
from casedesk_case.adapters.sla_table import sla_table_statements
from casedesk_case.application.ports import CaseIndex
from casedesk_case.application.timeline import SLA_TABLE, ClockState, SlaClock
from casedesk_case.application.views import (
    CaseFilter,
    CaseOrder,
    CasePage,
    CaseSummary,
    CaseTerm,
    DeskLoad,
    ErasedKey,
    QueueLoad,
    SpecialistLoad,
)
from casedesk_case.domain.values import (
    CallbackOwed,
    CallbackPurpose,
    Category,
    Channel,
    Status,
    Tier,
)
from casedesk_vocabulary.moscow import from_micros, to_micros

COLUMNS = (
    "case_id", "number", "version", "status", "channel", "queue", "assignee", "tier", "subject",
    "citizen_login", "registered_us", "updated_us", "category", "callback_purpose",
    "callback_due_us",
)  # fmt: skip
# Added to indexes made before the index kept it; such rows hold '' until the index is rebuilt.
CATEGORY_COLUMN = "category TEXT NOT NULL DEFAULT ''"
# The callback a PHONE case owes (domain/callbacks.py): added to indexes made before; their rows
# owe none until the index is rebuilt.
CALLBACK_COLUMNS = {
    "callback_purpose": "callback_purpose TEXT NOT NULL DEFAULT ''",
    "callback_due_us": "callback_due_us BIGINT NULL",
}
ADDED_COLUMNS = {"category": CATEGORY_COLUMN, **CALLBACK_COLUMNS}


# Whether the events beside the index hold sealed personal data (since when): one row, written by
# every start with CASEDESK_SEAL_PERSONAL_DATA on, read by a start with it off (sealing_guard.py).
SEALING_TABLE = "case_sealing"


def schema_statements(
    cases: str,
    loads: str,
    sla: str,
    terms: str,
    erased: str = ERASED_TABLE,
    sealing: str = SEALING_TABLE,
) -> list[str]:
    """The tables (`cases` may lack the columns added since: see ADDED_COLUMNS; `terms` those of
    TERMS_ADDED_COLUMNS). The search terms' table is new in indexes made before it: it is
    created, empty until the index is rebuilt (cases indexed before are not found by SNILS,
    phone or e-mail until then)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {cases} (case_id TEXT PRIMARY KEY, number TEXT NOT NULL, "
        "version BIGINT NOT NULL, status TEXT NOT NULL, channel TEXT NOT NULL, "
        "queue TEXT NOT NULL, assignee TEXT NOT NULL, tier TEXT NOT NULL, subject TEXT NOT NULL, "
        "citizen_login TEXT NOT NULL, registered_us BIGINT NOT NULL, updated_us BIGINT NOT NULL, "
        f"{', '.join(ADDED_COLUMNS.values())})",
        f"CREATE TABLE IF NOT EXISTS {loads} (specialist_id TEXT PRIMARY KEY, "
        "open_cases BIGINT NOT NULL)",
        # Keyed hashes of citizens' identifiers (application/search_terms.py), never the
        # identifiers; looked up by term, deleted by whose key sealed them (erased_keys.py).
        f"CREATE TABLE IF NOT EXISTS {terms} (term TEXT NOT NULL, case_id TEXT NOT NULL, "
        f"kind TEXT NOT NULL, {', '.join(TERMS_ADDED_COLUMNS.values())}, "
        "PRIMARY KEY (term, case_id))",
        erased_table_statement(erased),
        f"CREATE TABLE IF NOT EXISTS {sealing} (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "since_us BIGINT NOT NULL)",
        *sla_table_statements(sla),
    ]


def index_statements(cases: str, sla: str, terms: str) -> list[str]:
    """Each ListCases view starts from one of these and reads only its own rows."""
    return [
        f"CREATE INDEX IF NOT EXISTS case_search_terms_case ON {terms} (case_id)",
        subject_index_statement(terms),
        # The deadline order's walk (queries.py): only running clocks, so closed cases' old
        # rows are never in the way. On the timeline's table, for the index's query.
        f"CREATE INDEX IF NOT EXISTS case_sla_running_deadline ON {sla} (due_us) "
        f"WHERE {clock_runs(alias='')}",
        f"CREATE INDEX IF NOT EXISTS case_index_newest ON {cases} (registered_us, case_id)",
        f"CREATE INDEX IF NOT EXISTS case_index_citizen ON {cases} (citizen_login, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_assignee ON {cases} (assignee, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_queue ON {cases} (queue, status, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_status ON {cases} (status, registered_us)",
        # A tier's queue (the desk's «Очередь моей линии»), and what a specialist may read.
        f"CREATE INDEX IF NOT EXISTS case_index_tier ON {cases} (tier, status, registered_us)",
        f"CREATE INDEX IF NOT EXISTS case_index_category ON {cases} "
        "(category, status, registered_us)",
        # The callbacks owed (ListCases callback_owed), earliest due first: few rows.
        f"CREATE INDEX IF NOT EXISTS case_index_callback ON {cases} "
        "(callback_due_us, registered_us, case_id) WHERE callback_due_us IS NOT NULL",
    ]


class SqlCaseIndex(CaseIndex):
    """Queries shared by both databases; written with `?` placeholders."""

    datastore: Any
    _insert_tracking: Any  # the database's tracking recorder provides it
    placeholder = "?"
    cases_table = "case_index"
    loads_table = "case_specialist_load"
    terms_table = TERMS_TABLE
    erased_table = ERASED_TABLE
    sealing_table = SEALING_TABLE
    sla_table = SLA_TABLE
    deadline_settings: tuple[str, ...] = ()  # run before the deadline order's queries

    def _sql(self, statement: str) -> Any:
        return statement.replace("?", self.placeholder)

    def _select(self, statement: str, params: Sequence[object]) -> list[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(statement), list(params))
            return list(cursor.fetchall())

    def rows(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        ids = list(case_ids)
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        statement = f"SELECT * FROM {self.cases_table} WHERE case_id IN ({marks})"
        return {row["case_id"]: summary_of(row) for row in self._select(statement, ids)}

    def summaries(self, case_ids: Iterable[str]) -> dict[str, CaseSummary]:
        ids = list(case_ids)
        if not ids:
            return {}
        statement = summaries_statement(self.cases_table, self.sla_table, len(ids))
        return {row["case_id"]: summary_of(row) for row in self._select(statement, ids)}

    def write(
        self,
        rows: Sequence[CaseSummary],
        load_changes: Mapping[str, int],
        tracking: Tracking,
        terms: Sequence[CaseTerm] = (),
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
            if terms:
                self._add_terms(cursor, terms)

    def _add_terms(self, cursor: Any, terms: Sequence[CaseTerm]) -> None:
        """The terms no remembered erasure covers (erased_keys.py), in the write's transaction."""
        statement = self._sql(add_term_statement(self.terms_table, self.erased_table))
        cursor.executemany(statement, [term_values(t) for t in terms])

    def forget_erased(self, erasures: Sequence[ErasedKey]) -> int:
        if not erasures:
            return 0
        remember = self._sql(remember_erasure_statement(self.erased_table))
        delete = self._sql(delete_terms_statement(self.terms_table))
        deleted = 0
        with self.datastore.transaction(commit=True) as cursor:
            # Remembered first: on PostgreSQL this insert's lock is what a projector adding
            # terms waits for (erased_keys.py).
            cursor.executemany(remember, [(e.subject, e.generation, e.position) for e in erasures])
            for erasure in erasures:
                cursor.execute(delete, [erasure.subject, erasure.generation])
                deleted += len(cursor.fetchall())
        return deleted

    def erasure_position(self) -> int:
        found = self._select(erasure_position_statement(self.erased_table), [])
        return int(found[0]["position"]) if found else 0

    def sealed_since(self) -> datetime | None:
        found = self._select(f"SELECT since_us FROM {self.sealing_table} WHERE id = 1", [])
        return from_micros(int(found[0]["since_us"])) if found else None

    def mark_sealed(self, since: datetime) -> None:
        statement = (
            f"INSERT INTO {self.sealing_table} (id, since_us) VALUES (1, ?) "
            "ON CONFLICT (id) DO NOTHING"
        )
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._sql(statement), [to_micros(since)])

    def clocks(self, case_ids: Iterable[str]) -> dict[str, SlaClock]:
        ids = list(case_ids)
        if not ids:
            return {}
        statement = clocks_statement(self.sla_table, len(ids))
        found = self._select(statement, ids)
        return {row["case_id"]: clock for row in found if (clock := _clock(row)) is not None}

    def answered_before(self, cutoff: datetime, limit: int) -> list[tuple[str, int]]:
        statement = (
            f"SELECT case_id, version FROM {self.cases_table} WHERE status = ? "
            "AND updated_us <= ? ORDER BY updated_us, case_id LIMIT ?"
        )
        found = self._select(statement, [Status.ANSWER_READY.value, to_micros(cutoff), limit])
        return [(row["case_id"], int(row["version"])) for row in found]

    def search(self, criteria: CaseFilter, limit: int, page_token: str) -> CasePage:
        statements = search_statements(
            self.cases_table, self.sla_table, criteria, page_token, self.terms_table
        )
        found: list[CaseSummary] = []
        # One transaction: the two queries of the deadline order see one state of the clocks.
        with self.datastore.transaction(commit=False) as cursor:
            if criteria.order is CaseOrder.DEADLINE:
                for setting in self.deadline_settings:
                    cursor.execute(setting)
            for statement, params in statements:
                wanted = limit + 1 - len(found)  # one more than asked tells whether more follow
                cursor.execute(self._sql(statement), [*params, wanted])
                found += [summary_of(row) for row in cursor.fetchall()]
                if len(found) > limit:
                    break
        page = found[:limit]
        more = len(found) > limit
        return CasePage(page, encode_page_token(page[-1], criteria.order) if more else "")

    def desk_load(self, roster_ids: frozenset[str]) -> DeskLoad:
        (by_queue, queue_params), (by_assignee, assignee_params) = desk_load_statements(
            self.cases_table, self.sla_table, roster_ids
        )
        queues = [
            QueueLoad(Tier(r["tier"]), r["queue"], int(r["open_cases"]), int(r["unassigned"]),
                      int(r["breached"]))
            for r in self._select(by_queue, queue_params)
        ]  # fmt: skip
        specialists = [
            SpecialistLoad(r["assignee"], int(r["open_cases"]), int(r["waiting"]))
            for r in self._select(by_assignee, assignee_params)
        ]
        queues.sort(key=lambda q: (q.tier.rank, q.queue))
        specialists.sort(key=lambda s: (-s.open, s.specialist_id))
        return DeskLoad(queues, specialists)

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        if not specialist_ids:
            return {}
        marks = ", ".join("?" * len(specialist_ids))
        statement = (
            f"SELECT specialist_id, open_cases FROM {self.loads_table} "
            f"WHERE specialist_id IN ({marks}) AND open_cases > 0"
        )
        found = self._select(statement, list(specialist_ids))
        return {row["specialist_id"]: int(row["open_cases"]) for row in found}

    def reset(self, tracking_name: str) -> None:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {self.cases_table}")
            cursor.execute(f"DELETE FROM {self.loads_table}")
            cursor.execute(f"DELETE FROM {self.terms_table}")
            cursor.execute(
                self._sql(f"DELETE FROM {self._tracking_table()} WHERE application_name = ?"),
                [tracking_name],
            )

    def _tracking_table(self) -> str:
        raise NotImplementedError


class SQLiteCaseIndex(SqlCaseIndex, SQLiteTrackingRecorder):
    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        tables = schema_statements(
            self.cases_table, self.loads_table, self.sla_table, self.terms_table
        )
        indexes = index_statements(self.cases_table, self.sla_table, self.terms_table)
        return [*statements, *tables, *indexes]

    def _create_table(self, c: Any) -> None:
        # SQLite has no ADD COLUMN IF NOT EXISTS: an index made before a column was added
        # gets it here, before the statements that index it.
        for table, added in (
            (self.cases_table, ADDED_COLUMNS),
            (self.terms_table, TERMS_ADDED_COLUMNS),
        ):
            c.execute(f"SELECT name FROM pragma_table_info('{table}')")
            columns = {row[0] for row in c.fetchall()}
            for name, definition in added.items():
                if columns and name not in columns:
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")
        super()._create_table(c)

    def _tracking_table(self) -> str:
        return "tracking"


def row_values(row: CaseSummary) -> tuple[object, ...]:
    callback = row.callback
    return (
        row.case_id, row.number, row.version, row.status.value, row.channel.value, row.queue,
        row.assignee, row.tier.value, row.subject, row.citizen_login,
        to_micros(row.registered_at), to_micros(row.updated_at),
        row.category.value if row.category else "",
        callback.purpose.value if callback else "",
        to_micros(callback.due) if callback else None,
    )  # fmt: skip


def term_values(term: CaseTerm) -> tuple[object, ...]:
    """add_term_statement's parameters: the row, then whose key it is again for the guard."""
    return (
        term.term, term.case_id, term.kind, term.subject, term.generation,
        term.subject, term.generation,
    )  # fmt: skip


def summary_of(row: Any) -> CaseSummary:
    """A row of the index, with its clock when the statement joined `case_sla`."""
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
        category=Category(row["category"]) if row["category"] else None,
        clock=_clock(row),
        callback=_callback(row),
    )


def _callback(row: Any) -> CallbackOwed | None:
    due = row["callback_due_us"]
    if due is None or not row["callback_purpose"]:
        return None
    return CallbackOwed(CallbackPurpose(row["callback_purpose"]), from_micros(int(due)))


def _clock(row: Any) -> SlaClock | None:
    # sqlite3.Row's `in` looks at values: ask its keys.
    if "sla_state" not in row.keys() or row["sla_state"] is None:  # noqa: SIM118
        return None
    due, started = row["sla_due_us"], row["sla_started_us"]
    return SlaClock(
        case_id=row["case_id"],
        target=row["sla_target"],
        state=ClockState(row["sla_state"]),
        due_at=from_micros(int(due)) if due is not None else None,
        started_at=from_micros(int(started)) if started is not None else None,
    )

"""The access journal: its hash chain finds any tampering, its stores only ever append."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eventsourcing.sqlite import SQLiteDatastore

from casedesk_case.adapters.access_journal.memory import InMemoryAccessJournal
from casedesk_case.adapters.access_journal.sql import SQLiteAccessJournal
from casedesk_case.application.views import AccessFilter
from casedesk_case.domain.access_journal import (
    GENESIS_HASH,
    AccessEntry,
    AccessRecord,
    chain,
    verify_chain,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASE_A, CASE_B = "0b7f7a57-0000-4000-8000-00000000000a", "0b7f7a57-0000-4000-8000-00000000000b"


def entry(n: int, *, person: str = "l1.ivanova", case_id: str = CASE_A) -> AccessEntry:
    return AccessEntry(
        at=T0 + timedelta(minutes=n), person=person, role="specialist L1", case_id=case_id,
        purpose="обращение гражданина", caller="desk", rpc="GetCase",
    )  # fmt: skip


def test_records_are_numbered_and_each_hash_covers_the_previous_one() -> None:
    first = chain(None, [entry(1), entry(2)])
    more = chain(first[-1], [entry(3)])
    records = first + more
    assert [r.sequence for r in records] == [1, 2, 3]
    assert records[0].previous_hash == GENESIS_HASH
    assert [r.previous_hash for r in records[1:]] == [r.record_hash for r in records[:-1]]
    check = verify_chain(records)
    assert check.intact and check.records == 3 and check.last_hash == records[-1].record_hash


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    [
        # Another purpose written over record 2.
        (lambda rs: [rs[0], replace(rs[1], entry=replace(rs[1].entry, purpose="x")), *rs[2:]],
         2, "its content does not match its hash"),
        # Record 2 rewritten with a hash that fits its new content: record 3 no longer fits.
        (lambda rs: [rs[0], *chain(rs[0], [entry(2, person="l3.sidorova")]), *rs[2:]],
         3, "its previous hash is not the hash of the record before it"),
        # Record 3 removed.
        (lambda rs: [*rs[:2], *rs[3:]], 3, "expected record 3, found 4"),
        # Records 2 and 3 swapped.
        (lambda rs: [rs[0], rs[2], rs[1], rs[3]], 2, "expected record 2, found 3"),
    ],
)  # fmt: skip
def test_any_change_to_the_middle_of_the_chain_is_found(tamper, broken_at, problem) -> None:
    records = chain(None, [entry(n) for n in range(1, 5)])
    check = verify_chain(tamper(records))
    assert (check.intact, check.broken_at, check.problem) == (False, broken_at, problem)


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    if request.param == "memory":
        yield InMemoryAccessJournal()
        return
    datastore = SQLiteDatastore(str(tmp_path / "journal.db"))
    store = SQLiteAccessJournal(datastore)
    store.create_table()
    store.create_table()  # idempotent, as at every start
    yield store
    datastore.close()


def test_search_filters_by_case_person_and_time_and_pages_in_order(journal) -> None:  # type: ignore[no-untyped-def]
    journal.append([entry(1), entry(2, case_id=CASE_B)])
    journal.append([entry(3, person="l3.sidorova"), entry(4)])
    by_case = journal.search(AccessFilter(case_id=CASE_A), 0, 10)
    assert [r.sequence for r in by_case] == [1, 3, 4]
    by_person = journal.search(AccessFilter(person="l3.sidorova"), 0, 10)
    assert [r.entry.case_id for r in by_person] == [CASE_A]
    window = AccessFilter(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
    assert [r.sequence for r in journal.search(window, 0, 10)] == [2, 3]
    assert [r.sequence for r in journal.search(AccessFilter(case_id=CASE_A), 1, 1)] == [3]
    stored = journal.search(AccessFilter(), 0, 10)
    assert stored[0].entry == entry(1)  # the instant and Cyrillic purpose survive storage
    assert verify_chain(stored).intact


def test_sqlite_refuses_to_change_or_remove_a_record(tmp_path: Path) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "journal.db"))
    store = SQLiteAccessJournal(datastore)
    store.create_table()
    store.append([entry(1), entry(2)])
    connection = sqlite3.connect(tmp_path / "journal.db")
    for statement in (
        "UPDATE case_access_journal SET person = 'nobody'",
        "DELETE FROM case_access_journal WHERE sequence = 1",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="the access journal is append-only"):
            connection.execute(statement)
    connection.close()
    assert [r.entry.person for r in store.search(AccessFilter(), 0, 10)] == ["l1.ivanova"] * 2
    datastore.close()


def test_appenders_racing_on_one_sqlite_file_keep_one_unbroken_chain(tmp_path: Path) -> None:
    # Two stores on two connection pools, as two processes on one development database: they
    # read the same last record at times, and the primary key makes one of them append again.
    path = str(tmp_path / "journal.db")
    stores = [SQLiteAccessJournal(SQLiteDatastore(path, lock_timeout=10)) for _ in range(2)]
    stores[0].create_table()

    def append_many(store: SQLiteAccessJournal, person: str) -> None:
        for n in range(25):
            store.append([entry(n, person=person), entry(n, person=person, case_id=CASE_B)])

    threads = [
        threading.Thread(target=append_many, args=(store, f"p{i}"))
        for i, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records: list[AccessRecord] = stores[0].search(AccessFilter(), 0, 1000)
    assert [r.sequence for r in records] == list(range(1, 101))
    assert verify_chain(records).intact
    for store in stores:
        store.datastore.close()

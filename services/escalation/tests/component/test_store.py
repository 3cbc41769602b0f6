"""The decision store on a real SQLite file: atomic batches, fenced offsets, the outbox cycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from casedesk_escalation.adapters.persistence.dialects import sqlite_dialect
from casedesk_escalation.adapters.persistence.sql_store import SqlDecisionStore
from casedesk_escalation.application.records import DecidedBatch, JournalEntry, OffsetConflict
from casedesk_escalation.domain.case_state import CaseState
from casedesk_vocabulary.enums import Tier

GROUP = "casedesk-escalation"
CASE_P0 = ("case.events.v1", 0)
SLA_P0 = ("sla.events.v1", 0)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlDecisionStore]:
    store = SqlDecisionStore(sqlite_dialect(str(tmp_path / "escalation.sqlite")))
    await store.open()
    yield store
    await store.close()


def batch(offsets, entries=(), cases=()) -> DecidedBatch:
    return DecidedBatch(
        cases={c.case_id: c for c in cases}, entries=list(entries), offsets=dict(offsets)
    )


async def test_a_batch_is_committed_whole(store: SqlDecisionStore) -> None:
    state = CaseState("case-1", version=3, tier=Tier.L2, decided={"breach:X": "e1"})
    accepted = JournalEntry("d1", "case-1", b"accepted", b"command", '{"traceparent": "x"}')
    rejected = JournalEntry("d2", "case-1", b"rejected")
    offsets = {CASE_P0: (None, 10), SLA_P0: (None, 4)}
    await store.commit(GROUP, batch(offsets, [accepted, rejected], [state]))

    assert await store.offsets(GROUP) == {CASE_P0: 10, SLA_P0: 4}
    assert await store.offsets("another-group") == {}
    assert await store.load_cases(["case-1", "case-2"]) == {"case-1": state}
    pending = await store.pending_commands()
    assert [(p.decision_id, p.command, p.trace) for p in pending] == [
        ("d1", b"command", '{"traceparent": "x"}')
    ]
    # Only decisions without an outstanding command are ready for the journal.
    assert [d.decision_id for d in await store.unpublished()] == ["d2"]


async def test_settled_commands_release_their_decisions_to_the_journal_in_order(
    store: SqlDecisionStore,
) -> None:
    entries = [JournalEntry("d1", "c", b"r1", b"cmd"), JournalEntry("d2", "c", b"r2")]
    await store.commit(GROUP, batch({CASE_P0: (None, 2)}, entries))
    (pending,) = await store.pending_commands()
    await store.settle([(pending.seq, b"r1-final")])

    assert await store.pending_commands() == []
    ready = await store.unpublished()
    assert [(d.decision_id, d.record) for d in ready] == [("d1", b"r1-final"), ("d2", b"r2")]
    await store.mark_published(d.seq for d in ready)
    assert await store.unpublished() == []


async def test_offsets_advance_only_from_the_value_read(store: SqlDecisionStore) -> None:
    await store.commit(GROUP, batch({CASE_P0: (None, 5)}))
    await store.commit(GROUP, batch({CASE_P0: (5, 9)}))
    # A consumer that read offset 5 before the other one committed 9 is fenced off ...
    stale = batch(
        {CASE_P0: (5, 7), SLA_P0: (None, 1)}, [JournalEntry("d", "c", b"r")], [CaseState("c")]
    )
    with pytest.raises(OffsetConflict):
        await store.commit(GROUP, stale)
    # ... and nothing of its batch is kept.
    assert await store.offsets(GROUP) == {CASE_P0: 9}
    assert await store.unpublished() == [] and await store.load_cases(["c"]) == {}
    # A second "first" commit of a partition is a conflict as well.
    with pytest.raises(OffsetConflict):
        await store.commit(GROUP, batch({CASE_P0: (None, 1)}))


async def test_a_decision_is_never_stored_twice(store: SqlDecisionStore) -> None:
    await store.commit(GROUP, batch({CASE_P0: (None, 1)}, [JournalEntry("d1", "c", b"r")]))
    with pytest.raises(Exception, match="UNIQUE"):
        await store.commit(GROUP, batch({CASE_P0: (1, 2)}, [JournalEntry("d1", "c", b"r")]))
    assert await store.offsets(GROUP) == {CASE_P0: 1}


async def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.sqlite")
    first = SqlDecisionStore(sqlite_dialect(path))
    await first.open()
    await first.commit(GROUP, batch({SLA_P0: (None, 3)}, cases=[CaseState("c", tier=Tier.L3)]))
    await first.close()
    again = SqlDecisionStore(sqlite_dialect(path))
    await again.open()
    try:
        assert await again.offsets(GROUP) == {SLA_P0: 3}
        assert (await again.load_cases(["c"]))["c"].tier is Tier.L3
    finally:
        await again.close()

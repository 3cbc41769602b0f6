"""The topic compared with the event store, on version ledgers (the CLI is in test_gaps_cli)."""

from __future__ import annotations

import pytest

from casedesk_replay.gaps import CaseExample
from casedesk_replay.projections import CaseVersions
from casedesk_replay.storecheck import compare

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
C = "00000000-0000-4000-8000-00000000000c"


def ledger(seen: dict[str, list[int]], from_start: bool = True) -> CaseVersions:
    versions = CaseVersions(from_start)
    for case_id, numbers in seen.items():
        for version in numbers:
            versions.note(case_id, version)
    return versions


STORE = {A: [1, 2, 3, 4], B: [1, 2], C: [1, 2, 3]}


def test_a_topic_with_every_stored_event_is_complete() -> None:
    # Re-sent and out of order on the topic, the same events all the same.
    result = compare(ledger(STORE), ledger({A: [1, 2, 4, 3, 4], C: [1, 2, 3, 1], B: [1, 2]}))
    assert result.topic_complete
    assert (result.stored_events, result.stored_cases, result.topic_events) == (9, 3, 9)
    assert (result.missing_from_topic, result.not_in_store, result.topic_duplicates) == (0, 0, 2)
    assert result.missing_examples == result.not_in_store_examples == []


def test_stored_events_missing_from_the_topic_are_counted_and_named() -> None:
    topic = ledger({A: [1, 2, 4], C: [2, 3, 3]})  # B never reached the topic
    result = compare(ledger(STORE), topic)
    assert not result.topic_complete
    assert (result.missing_from_topic, result.cases_missing_events) == (4, 3)
    assert result.cases_absent_from_topic == 1
    assert result.missing_examples == [
        CaseExample(A, [3]),
        CaseExample(B, [1, 2]),
        CaseExample(C, [1]),
    ]
    assert (result.topic_events, result.topic_duplicates, result.not_in_store) == (5, 1, 0)


def test_events_on_the_topic_the_store_does_not_have() -> None:
    other = "00000000-0000-4000-8000-0000000000ff"
    result = compare(ledger(STORE), ledger({**STORE, A: [1, 2, 3, 4, 5], other: [1, 2]}))
    assert result.topic_complete
    assert (result.not_in_store, result.cases_not_in_store) == (3, 2)
    assert result.not_in_store_examples == [CaseExample(A, [5]), CaseExample(other, [1, 2])]


def test_examples_are_capped() -> None:
    stored = {f"00000000-0000-4000-8000-{n:012d}": [1] for n in range(30)}
    result = compare(ledger(stored), ledger({}), examples=10)
    assert (result.missing_from_topic, result.cases_absent_from_topic) == (30, 30)
    assert [e.case_id for e in result.missing_examples] == sorted(stored)[:10]


def test_only_whole_streams_are_compared() -> None:
    with pytest.raises(ValueError, match="from their beginning"):
        compare(ledger(STORE), ledger(STORE, from_start=False))

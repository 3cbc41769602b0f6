"""Gap detection in the case stream: the version ledger, the gap report, and the replay around
them (windows, duplicates, late versions, checkpoints)."""

from __future__ import annotations

import asyncio
import pickle
import random
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casedesk_replay.checkpoint import CheckpointFile
from casedesk_replay.gaps import FROM_FIRST_SEEN, FROM_VERSION_1, CaseExample, find_gaps
from casedesk_replay.gaps import version_ranges as ranges
from casedesk_replay.progress import SilentProgress
from casedesk_replay.projections import CaseVersions, ReplayState
from casedesk_replay.runner import Replay
from casedesk_replay.sources import Batch
from casedesk_replay.topics import Stream
from casedesk_replay_testing.synthetic import generate
from casedesk_replay_testing.synthetic.builders import MINUTE, T0, CaseEvents

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"


def ledger(*seen: tuple[str, int], from_start: bool = True) -> CaseVersions:
    versions = CaseVersions(from_start)
    for case_id, version in seen:
        versions.note(case_id, version)
    return versions


def of(case_id: str, *versions: int) -> list[tuple[str, int]]:
    return [(case_id, version) for version in versions]


def story(case_id: str, events: int) -> list[Any]:
    """`events` consecutive events of one case (Created, then status changes and comments)."""
    case = CaseEvents(case_id=case_id)
    case.created(T0)
    for index in range(1, events):
        case.comment(T0 + index * MINUTE)
    return case.events


# -- the ledger --------------------------------------------------------------------------------


def test_a_complete_stream_has_no_gaps() -> None:
    versions = ledger(*of(A, 1, 2, 3), *of(B, 1, 2))
    gaps = find_gaps(versions)
    assert (gaps.cases, gaps.cases_with_gaps, gaps.missing_events, gaps.duplicate_records) == (
        2,
        0,
        0,
        0,
    )
    assert gaps.examples == [] and gaps.judged_from == FROM_VERSION_1
    assert versions.distinct() == 5
    assert versions.above == {}  # nothing but one int per case


def test_a_hole_is_one_missing_event_until_the_late_version_fills_it() -> None:
    versions = ledger(*of(A, 1, 2, 4))
    assert versions.missing_of(A) == [3]
    gaps = find_gaps(versions)
    assert (gaps.cases_with_gaps, gaps.missing_events) == (1, 1)
    assert gaps.examples == [CaseExample(A, [3])]

    versions.note(A, 3)  # out of order: tolerated, judged at the end
    assert find_gaps(versions).cases_with_gaps == 0
    assert (versions.run_top[A], versions.above) == (4, {})


def test_a_case_first_seen_at_version_3_from_the_start_misses_two() -> None:
    gaps = find_gaps(ledger(*of(A, 3, 4)))
    assert (gaps.cases_with_gaps, gaps.missing_events) == (1, 2)
    assert gaps.examples == [CaseExample(A, [1, 2])]


def test_duplicates_are_counted_apart_and_are_never_gaps() -> None:
    versions = ledger(*of(A, 1, 2, 2, 3, 3, 1))
    gaps = find_gaps(versions)
    assert (gaps.cases_with_gaps, gaps.missing_events, gaps.duplicate_records) == (0, 0, 3)
    # Above a hole too: a re-sent version 5 is a duplicate, and 2-4 are still missing.
    versions = ledger(*of(A, 1, 5, 5))
    assert (versions.duplicates, versions.missing_of(A)) == (1, [2, 3, 4])
    assert versions.distinct() == 2


def test_out_of_order_versions_are_judged_at_the_end() -> None:
    assert find_gaps(ledger(*of(A, 3, 1, 2))).cases_with_gaps == 0
    versions = ledger(*of(A, 5, 1, 3, 7))
    assert versions.missing_of(A) == [2, 4, 6]
    assert find_gaps(versions).missing_events == 3


def test_a_window_opened_mid_case_judges_from_the_first_version_seen() -> None:
    # --since cut the stream: versions before 5 are outside the window, not missing.
    versions = ledger(*of(A, 5, 6, 7), *of(B, 2, 4), from_start=False)
    gaps = find_gaps(versions)
    assert gaps.judged_from == FROM_FIRST_SEEN
    assert (gaps.cases_with_gaps, gaps.missing_events) == (1, 1)
    assert gaps.examples == [CaseExample(B, [3])]
    assert versions.distinct() == 5


def test_in_a_window_a_late_lower_version_extends_the_judged_range() -> None:
    adjacent = ledger(*of(A, 5, 6, 4), from_start=False)
    assert (adjacent.missing_of(A), adjacent.start_of(A), adjacent.distinct()) == ([], 4, 3)
    apart = ledger(*of(A, 5, 6, 2), from_start=False)
    assert apart.missing_of(A) == [3, 4]
    apart.note(A, 3)
    apart.note(A, 4)
    assert (apart.missing_of(A), apart.run_top[A], apart.above) == ([], 6, {})


def test_events_without_a_version_are_not_the_ledgers_business() -> None:
    versions = ledger((A, 0), *of(B, 1))
    assert list(versions.run_top) == [B]
    assert versions.duplicates == 0 and find_gaps(versions).cases_with_gaps == 0


def test_examples_are_the_smallest_case_ids_and_at_most_ten() -> None:
    cases = [f"00000000-0000-4000-8000-{index:012d}" for index in range(25)]
    random.Random(3).shuffle(cases)
    versions = ledger(*((case_id, 2) for case_id in cases))
    gaps = find_gaps(versions)
    assert (gaps.cases_with_gaps, gaps.missing_events) == (25, 25)
    assert [e.case_id for e in gaps.examples] == sorted(cases)[:10]
    assert all(e.versions == [1] for e in gaps.examples)


def test_missing_versions_read_as_ranges() -> None:
    assert ranges([7, 1, 2, 3, 5, 8]) == "1-3, 5, 7-8"
    assert ranges([4]) == "4"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([A, B, "c"]), st.integers(min_value=1, max_value=12)),
        max_size=60,
    ),
    st.booleans(),
)
def test_the_ledger_agrees_with_plain_sets(seen: list[tuple[str, int]], from_start: bool) -> None:
    """Any order, any repeats: missing = expected range minus versions seen; duplicates = the
    records beyond the first of each version."""
    versions = ledger(*seen, from_start=from_start)
    by_case: dict[str, set[int]] = {}
    for case_id, version in seen:
        by_case.setdefault(case_id, set()).add(version)
    expected = {
        case_id: sorted(set(range(1 if from_start else min(vs), max(vs) + 1)) - vs)
        for case_id, vs in by_case.items()
    }
    assert {case_id: versions.missing_of(case_id) for case_id in by_case} == expected
    assert versions.duplicates == len(seen) - sum(len(vs) for vs in by_case.values())
    assert versions.distinct() == sum(len(vs) for vs in by_case.values())
    assert {c: versions.versions_of(c) for c in by_case} == by_case
    gaps = find_gaps(versions)
    assert gaps.missing_events == sum(len(m) for m in expected.values())
    assert gaps.cases_with_gaps == sum(1 for m in expected.values() if m)


# -- in the replay's fold ----------------------------------------------------------------------


def test_the_fold_notes_gaps_and_counts_a_case_once() -> None:
    a, b = story(A, 5), story(B, 3)
    state = ReplayState()
    state.apply(Stream.CASE, [a[0], a[1], a[3], b[1], a[1], b[2]])
    state.apply(Stream.CASE, [a[4]])
    gaps = find_gaps(state.versions)
    assert (gaps.cases_with_gaps, gaps.missing_events, gaps.duplicate_records) == (2, 2, 1)
    assert gaps.examples == [CaseExample(A, [3]), CaseExample(B, [1])]
    assert state.cases.rows[A]["version"] == 5


def test_a_generated_scenario_replays_without_gaps(scenario) -> None:
    state = ReplayState()
    for stream, events in scenario.streams().items():
        state.apply(stream, events)
    gaps = find_gaps(state.versions)
    assert (gaps.cases, gaps.cases_with_gaps, gaps.duplicate_records) == (
        scenario.expected.cases,
        0,
        0,
    )
    assert state.versions.distinct() == len(scenario.case_events)


def test_a_checkpointed_state_goes_on_finding_the_same_gaps() -> None:
    everything = generate(30, seed=4).case_events
    events = [e for e in everything if e.meta.case_version != 2]
    longer = {e.meta.case_id for e in everything if e.meta.case_version >= 3}
    half = len(events) // 2
    whole = ReplayState()
    whole.apply(Stream.CASE, events)
    first = ReplayState()
    first.apply(Stream.CASE, events[:half])
    resumed = ReplayState()
    resumed.restore(pickle.loads(pickle.dumps(first.snapshot())))
    resumed.apply(Stream.CASE, events[half:])
    assert find_gaps(resumed.versions) == find_gaps(whole.versions)
    assert find_gaps(whole.versions).cases_with_gaps == len(longer) > 0


def test_a_checkpoint_of_an_older_replay_is_refused_with_advice() -> None:
    snapshot = ReplayState().snapshot()
    snapshot["format"] = 1
    with pytest.raises(ValueError, match=r"older casedesk-replay.*delete it"):
        ReplayState().restore(snapshot)


class GrowingTopic:
    """An in-memory source over a list that grows between replays, positions = indexes."""

    name, unit = "list", "records"

    def __init__(self, events: Sequence[Any], batch: int = 3) -> None:
        self._events, self._batch, self._position = list(events), batch, 0

    async def open(self, resume: Mapping[str, int]) -> int:
        self._position = resume.get("case", 0)
        return len(self._events) - self._position

    async def batches(self) -> AsyncIterator[Batch]:
        while self._position < len(self._events):
            chunk = self._events[self._position : self._position + self._batch]
            self._position += len(chunk)
            yield Batch(Stream.CASE, chunk, "case", self._position, len(chunk))

    async def close(self) -> None:
        pass


def replay_into(state: ReplayState, events: Iterable[Any], checkpoint: CheckpointFile) -> int:
    replay = Replay([GrowingTopic(list(events))], state, SilentProgress(), checkpoint, {"q": "1"})
    return asyncio.run(replay.run()).events


def test_a_finished_checkpoint_reads_on_and_judges_across_the_boundary(tmp_path) -> None:
    a, b = story(A, 5), story(B, 4)
    checkpoint = CheckpointFile(tmp_path / "cp")
    topic = [a[0], a[1], b[0]]
    replay_into(ReplayState(), topic, checkpoint)
    # Later the topic holds more: A's version 3 never came, B's 2 comes after its 3.
    topic += [a[3], b[2], b[1], a[4], b[3]]
    state = ReplayState()
    assert replay_into(state, topic, checkpoint) == 5  # only what is new is read
    gaps = find_gaps(state.versions)
    assert gaps.examples == [CaseExample(A, [3])]
    assert (gaps.cases, gaps.missing_events) == (2, 1)

"""Group commit: saves that wait together are written together, conflicts stay individual."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.popo import POPOApplicationRecorder

from casedesk_case.adapters.persistence.group_commit import GroupCommitRecorder


class CountingRecorder(POPOApplicationRecorder):
    """Counts transactions; the first one is slow so that the others queue up behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions: list[int] = []
        self.first_entered = threading.Event()
        self.release_first = threading.Event()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        if not self.transactions:
            self.transactions.append(len(stored_events))
            self.first_entered.set()
            self.release_first.wait(5)
        else:
            self.transactions.append(len(stored_events))
        return super().insert_events(stored_events, **kwargs)


def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for a state of the recorder, however slow the machine (never a fixed sleep)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the saves never queued up"
        time.sleep(0.001)


def stored(originator: uuid.UUID, version: int = 1) -> StoredEvent:
    return StoredEvent(originator, version, "topic", b"{}")


def test_waiting_saves_share_one_transaction_and_keep_their_ids() -> None:
    inner = CountingRecorder()
    recorder = GroupCommitRecorder(inner)
    ids = [uuid.uuid4() for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(recorder.insert_events, [stored(ids[0])])
        assert inner.first_entered.wait(5)  # the first save leads, inside its transaction
        rest = [pool.submit(recorder.insert_events, [stored(i), stored(i, 2)]) for i in ids[1:]]
        until(lambda: recorder.waiting == 5)
        inner.release_first.set()
        results = [first.result(), *(f.result() for f in rest)]
    assert inner.transactions == [1, 10]  # the five waiting saves went in one transaction
    assert sorted(n for r in results for n in r) == list(range(1, 12))
    for result, originator in zip(results, ids, strict=True):
        versions = [e.originator_version for e in inner.select_events(originator)]
        assert len(result) == len(versions)


def test_a_conflict_in_a_group_fails_only_its_own_save() -> None:
    inner = CountingRecorder()
    recorder = GroupCommitRecorder(inner)
    taken = uuid.uuid4()
    inner.release_first.set()
    recorder.insert_events([stored(taken)])
    inner.release_first.clear()
    inner.transactions.clear()
    inner.first_entered.clear()
    fresh = [uuid.uuid4() for _ in range(3)]
    with ThreadPoolExecutor(max_workers=5) as pool:
        leader = pool.submit(recorder.insert_events, [stored(uuid.uuid4())])
        assert inner.first_entered.wait(5)
        good = [pool.submit(recorder.insert_events, [stored(i)]) for i in fresh]
        clash = pool.submit(recorder.insert_events, [stored(taken)])
        until(lambda: recorder.waiting == 4)
        inner.release_first.set()
        leader.result()
        for future in good:
            assert len(future.result()) == 1
        with pytest.raises(IntegrityError):
            clash.result()
    for originator in fresh:
        assert len(inner.select_events(originator)) == 1


def test_saves_as_the_event_store_makes_them_are_grouped_too() -> None:
    """eventsourcing's event store always passes `tracking` (None): that is no reason to wait."""
    inner = CountingRecorder()
    recorder = GroupCommitRecorder(inner)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(recorder.insert_events, [stored(uuid.uuid4())], tracking=None)
        assert inner.first_entered.wait(5)
        rest = [
            pool.submit(recorder.insert_events, [stored(uuid.uuid4())], tracking=None)
            for _ in range(3)
        ]
        until(lambda: recorder.waiting == 3)
        inner.release_first.set()
        assert [len(f.result()) for f in (first, *rest)] == [1, 1, 1, 1]
    assert inner.transactions == [1, 3]

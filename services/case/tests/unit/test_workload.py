"""The workload counts behind assignment: the index's counts, refreshed, plus local assignments."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from casedesk_case.application.workload import Workload


class CountingIndex:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.reads = 0

    def loads(self, specialist_ids: Sequence[str]) -> dict[str, int]:
        self.reads += 1
        return {s: self.counts[s] for s in specialist_ids if s in self.counts}


def test_local_assignments_count_until_the_next_read() -> None:
    index = CountingIndex({"anna": 2})
    workload = Workload(index.loads, ["anna", "boris"], ttl_s=60)
    assert workload.loads(["anna", "boris"]) == {"anna": 2}
    workload.assigned("boris", "")
    workload.assigned("boris", "")
    workload.assigned("anna", "boris")
    assert workload.loads(["anna", "boris"]) == {"anna": 3, "boris": 1}
    assert index.reads == 1  # within the time to live nothing is re-read


def test_counts_are_re_read_after_their_time_to_live() -> None:
    index = CountingIndex({"anna": 2})
    workload = Workload(index.loads, ["anna"], ttl_s=0, refresh_in_background=False)
    workload.loads(["anna"])
    workload.assigned("anna", "")
    index.counts["anna"] = 7  # the index caught up with every replica's assignments
    assert workload.loads(["anna"]) == {"anna": 7}
    assert index.reads == 2


def test_stale_counts_serve_while_they_are_refreshed_in_the_background() -> None:
    index = CountingIndex({"anna": 2})
    release = threading.Event()
    reads = index.loads

    def slow_loads(specialist_ids: Sequence[str]) -> dict[str, int]:
        if index.reads:  # the first read is in line; later ones wait to be released
            release.wait(5)
        return reads(specialist_ids)

    workload = Workload(slow_loads, ["anna", "boris"], ttl_s=0)
    assert workload.loads(["anna"]) == {"anna": 2}
    index.counts = {"anna": 5}
    # Stale: the caller gets the counts it had at once, and a refresh starts.
    assert workload.loads(["anna"]) == {"anna": 2}
    workload.assigned("boris", "")  # while the refresh runs
    release.set()
    expected = {"anna": 5, "boris": 1}  # refreshed, with the assignment made meanwhile on top
    deadline = time.monotonic() + 5
    while (seen := workload.loads(["anna", "boris"])) != expected:
        assert seen in ({"anna": 2, "boris": 1}, expected)  # old counts until the refresh lands
        assert time.monotonic() < deadline
        time.sleep(0.01)

"""Which versions of each case a replay has seen, kept small: the ground of gap detection.

The case service gives each event of a case the next aggregate version (1, 2, 3, ...), so a
complete stream holds every case's versions without a hole. Per case the ledger keeps the top of
the unbroken run of versions seen (one int: all that a complete stream ever needs) and, only
while a case's stream has a hole, the set of versions seen above the hole; a late version that
fills the hole folds that set back into the run. A version seen again is a duplicate, not a gap:
the outbox relay publishes at least once and re-sends a batch with the same event ids.

Where a case's run starts depends on where the read started. Read from the beginning of the
stream, every case starts at version 1, so a case first seen at version 3 misses 1 and 2. A read
that starts later (`--since`, a capture of a window) cannot know what came before it, so a case
starts at the lowest version seen: only holes between the lowest and the highest version seen
count, and a window that opens in the middle of a case reports nothing false.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any


class CaseVersions:
    def __init__(self, from_start: bool = True) -> None:
        """`from_start`: the read starts at the beginning of every case's stream (version 1)."""
        self.from_start = from_start
        self.run_top: dict[str, int] = {}  # case id -> top of its unbroken run of versions
        self.run_start: dict[str, int] = {}  # case id -> lowest version seen (windowed reads)
        self.above: dict[str, set[int]] = {}  # case id -> versions seen above a hole
        self.duplicates = 0  # records of a version already seen

    def observe(self, events: Sequence[Any]) -> None:
        """Note the versions of a batch of CaseEvents. Every replayed case event passes here, so
        the usual one (the next version of a case without a hole) costs two dict look-ups."""
        tops, above, note = self.run_top, self.above, self.note
        for event in events:
            meta = event.meta
            case_id = meta.case_id
            version = meta.case_version
            top = tops.get(case_id)
            if top is not None and version == top + 1 and case_id not in above:
                tops[case_id] = version
            else:
                note(case_id, version)

    def note(self, case_id: str, version: int) -> None:
        """One version, the general way: a new case, a duplicate, a hole or a late version."""
        if version < 1:
            return  # not an event of a case aggregate: the case service numbers from 1
        top = self.run_top.get(case_id)
        if top is None:
            start = 1 if self.from_start else version
            if not self.from_start:
                self.run_start[case_id] = start
            top = self.run_top[case_id] = start - 1
        start = self.run_start[case_id] if not self.from_start else 1
        if version < start:
            self._earlier(case_id, version, start, top)
        elif version <= top:
            self.duplicates += 1
        elif version == top + 1:
            self._extend(case_id, version)
        else:
            later = self.above.setdefault(case_id, set())
            if version in later:
                self.duplicates += 1
            else:
                later.add(version)

    def _extend(self, case_id: str, version: int) -> None:
        later = self.above.get(case_id)
        if later:
            while version + 1 in later:
                version += 1
                later.remove(version)
            if not later:
                del self.above[case_id]
        self.run_top[case_id] = version

    def _earlier(self, case_id: str, version: int, start: int, top: int) -> None:
        """A windowed read met a version below the lowest seen so far (out of order): the
        judged range now starts there, and if it is not adjacent the old run lies above a hole."""
        self.run_start[case_id] = version
        if version == start - 1:
            return
        self.above.setdefault(case_id, set()).update(range(start, top + 1))
        self.run_top[case_id] = version

    # -- questions -------------------------------------------------------------------------

    def start_of(self, case_id: str) -> int:
        return 1 if self.from_start else self.run_start[case_id]

    def versions_of(self, case_id: str) -> set[int]:
        """Every version seen of a case (empty if never seen)."""
        top = self.run_top.get(case_id)
        if top is None:
            return set()
        return set(range(self.start_of(case_id), top + 1)) | self.above.get(case_id, set())

    def missing_of(self, case_id: str) -> list[int]:
        """The versions of a case missing between its start and the highest version seen."""
        later = self.above.get(case_id)
        if not later:
            return []
        return [v for v in range(self.run_top[case_id] + 1, max(later)) if v not in later]

    def missing_count_of(self, case_id: str) -> int:
        later = self.above.get(case_id)
        return max(later) - self.run_top[case_id] - len(later) if later else 0

    def cases_with_gaps(self) -> Collection[str]:
        # A case stays in `above` only while a hole lies below those versions.
        return self.above.keys()

    def distinct(self) -> int:
        """Versions seen, each counted once: the distinct events read."""
        if self.from_start:
            run = sum(self.run_top.values())
        else:
            starts = self.run_start
            run = sum(top - starts[case_id] + 1 for case_id, top in self.run_top.items())
        return run + sum(len(later) for later in self.above.values())

    # -- checkpoint ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "from_start": self.from_start,
            "run_top": self.run_top,
            "run_start": self.run_start,
            "above": self.above,
            "duplicates": self.duplicates,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.from_start = state["from_start"]
        self.run_top = state["run_top"]
        self.run_start = state["run_start"]
        self.above = state["above"]
        self.duplicates = state["duplicates"]

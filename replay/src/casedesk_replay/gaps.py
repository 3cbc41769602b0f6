"""Gaps in the case stream: events a replay should have seen and did not.

During a Kafka outage the outbox relay once left holes in case.events.v1, and replays counted
fewer cases than the store held without a word. The version ledger (`CaseVersions`) notes every
case event's version; this module turns it into what an analyst is told: how many cases have
holes, how many events are missing, how many records were duplicates, and a few examples (case
ids and versions only: nothing personal).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from casedesk_replay.projections.versions import CaseVersions

EXAMPLES = 10
FROM_VERSION_1 = "version 1"
FROM_FIRST_SEEN = "the first version seen"


@dataclass(frozen=True)
class CaseExample:
    """A case named in a warning, with the versions concerned (missing, or surplus)."""

    case_id: str
    versions: list[int]


@dataclass(frozen=True)
class GapReport:
    judged_from: str  # where each case's versions are expected to start
    cases: int  # cases seen
    cases_with_gaps: int
    missing_events: int
    duplicate_records: int  # records of a version already seen (re-sent; counted once)
    examples: list[CaseExample] = field(default_factory=list)  # missing versions


def find_gaps(versions: CaseVersions, examples: int = EXAMPLES) -> GapReport:
    gapped = versions.cases_with_gaps()
    missing = sum(versions.missing_count_of(case_id) for case_id in gapped)
    # The smallest ids, not the first met: Kafka interleaves partitions differently each run,
    # and the same replay should name the same examples.
    chosen = heapq.nsmallest(examples, gapped)
    return GapReport(
        judged_from=FROM_VERSION_1 if versions.from_start else FROM_FIRST_SEEN,
        cases=len(versions.run_top),
        cases_with_gaps=len(gapped),
        missing_events=missing,
        duplicate_records=versions.duplicates,
        examples=[CaseExample(case_id, versions.missing_of(case_id)) for case_id in chosen],
    )


def version_ranges(versions: Iterable[int]) -> str:
    """`[1, 2, 3, 5, 7, 8]` -> `1-3, 5, 7-8`: long runs of missing versions stay readable."""
    spans: list[list[int]] = []
    for version in sorted(versions):
        if spans and version == spans[-1][1] + 1:
            spans[-1][1] = version
        else:
            spans.append([version, version])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans)

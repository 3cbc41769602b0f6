"""Summary reports over a replayed state: SLA compliance, response times, escalations, closures
by reason, answer ratings, repeats.

Pure functions from projections to small frozen rows. Compliance is met-on-time over decided
clocks (met on time + met late + breached); clocks still running and not overdue are counted as
open and left out of the rate. Weeks are ISO weeks of the clock's start in Moscow time.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from casedesk_deadlines import MOSCOW
from casedesk_replay.gaps import GapReport, find_gaps
from casedesk_replay.projections import ReplayState
from casedesk_replay.projections.escalations import DECIDED, ESCALATED, REQUESTED
from casedesk_replay.projections.sla import BREACHED, MET, MET_LATE, OPEN, outcome
from casedesk_replay.wire import from_micros

DIMENSIONS = ("channel", "category", "tier", "week")
# Ratings are grouped by the case's queue, tier and assignee when the citizen rated the answer.
RATING_DIMENSIONS = ("queue", "tier", "specialist")
SCORES = (1, 2, 3, 4, 5)
ALL = "ALL"
NOBODY = "UNASSIGNED"  # the case was with nobody when it was rated
PERCENTILES = (50, 90, 95, 99)
UNKNOWN = "UNKNOWN"  # the case's Created event was not replayed


@dataclass(frozen=True)
class Compliance:
    dimension: str
    group: str
    target: str
    met: int
    met_late: int
    breached: int
    open: int

    @property
    def rate(self) -> float | None:
        decided = self.met + self.met_late + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Durations:
    """Percentiles of wall-clock seconds from registration to first response or resolution."""

    channel: str
    measure: str
    count: int
    percentiles: dict[int, float]


@dataclass(frozen=True)
class Escalations:
    cases: int
    escalated_cases: int
    escalations: int
    requests: int
    decisions_accepted: int
    decisions_rejected: int
    by_reason: dict[str, int]
    by_tier: dict[str, int]


@dataclass(frozen=True)
class Closures:
    """Closings replayed (StatusChanged to CLOSED), by CloseReason name; those stored before
    close reasons existed count as CLOSE_REASON_UNSPECIFIED."""

    closed: int
    by_reason: dict[str, int]


@dataclass(frozen=True)
class Ratings:
    """The citizens' ratings of answers in one group: how many, and how many of each score."""

    dimension: str
    group: str
    count: int
    scores: dict[int, int]  # 1..5 -> ratings with that score

    @property
    def mean(self) -> float | None:
        return sum(s * n for s, n in self.scores.items()) / self.count if self.count else None


@dataclass(frozen=True)
class Repeats:
    channel: str
    cases: int
    repeats: int

    @property
    def rate(self) -> float | None:
        return self.repeats / self.cases if self.cases else None


@dataclass(frozen=True)
class SummaryReport:
    events: dict[str, int]
    compliance: dict[str, list[Compliance]]  # dimension -> rows
    response_times: list[Durations]
    escalations: Escalations
    closures: Closures
    ratings: dict[str, list[Ratings]]  # dimension -> rows, ALL last
    repeats: list[Repeats]
    gaps: GapReport  # holes in the case stream: counts above miss those events


def summarize(state: ReplayState, dimensions: Iterable[str] = DIMENSIONS) -> SummaryReport:
    return SummaryReport(
        events=dict(state.events),
        compliance={dimension: sla_compliance(state, dimension) for dimension in dimensions},
        response_times=response_times(state),
        escalations=escalations(state),
        closures=closures(state),
        ratings={dimension: ratings(state, dimension) for dimension in RATING_DIMENSIONS},
        repeats=repeats(state),
        gaps=find_gaps(state.versions),
    )


def compliance(clocks: Iterable[dict[str, Any]], cases: dict[str, dict[str, Any]],
               dimension: str) -> list[Compliance]:  # fmt: skip
    """Outcome counts per group of `dimension` and target; `clocks` rows need an outcome."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for clock in clocks:
        counts[(_group(clock, cases, dimension), clock["target"])][clock["outcome"]] += 1
    return [
        Compliance(dimension, group, target, c[MET], c[MET_LATE], c[BREACHED], c[OPEN])
        for (group, target), c in sorted(counts.items())
    ]


def sla_compliance(state: ReplayState, dimension: str) -> list[Compliance]:
    clocks = ({**row, "outcome": outcome(row)} for row in state.sla.clocks.values())
    return compliance(clocks, state.cases.rows, dimension)


def response_times(state: ReplayState) -> list[Durations]:
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in state.cases.rows.values():
        registered = row["registered_at"]
        if registered is None:
            continue
        for measure, column in (("first_response", "first_response_at"),
                                ("resolution", "resolved_at")):  # fmt: skip
            if row[column] is not None:
                seconds = (row[column] - registered) / 1_000_000
                samples[(row["channel"], measure)].append(seconds)
                samples[("ALL", measure)].append(seconds)
    return [
        Durations(channel, measure, len(values), percentiles(values))
        for (channel, measure), values in sorted(samples.items())
    ]


def percentiles(values: list[float]) -> dict[int, float]:
    """Nearest-rank percentiles: the smallest value with at least p% of values at or below it."""
    ordered = sorted(values)
    return {p: ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)] for p in PERCENTILES}


def escalations(state: ReplayState) -> Escalations:
    rows = state.escalations.rows
    escalated = [row for row in rows if row.source == ESCALATED]
    decided = [row for row in rows if row.source == DECIDED]
    return Escalations(
        cases=len(state.cases.rows),
        escalated_cases=len({row.case_id for row in escalated}),
        escalations=len(escalated),
        requests=sum(1 for row in rows if row.source == REQUESTED),
        decisions_accepted=sum(1 for row in decided if row.accepted),
        decisions_rejected=sum(1 for row in decided if not row.accepted),
        by_reason=dict(sorted(Counter(row.reason for row in escalated).items())),
        by_tier=dict(sorted(Counter(row.to_tier for row in escalated).items())),
    )


def closures(state: ReplayState) -> Closures:
    reasons = Counter(t[6] for t in state.cases.transitions if t[4] == "CLOSED")
    return Closures(sum(reasons.values()), dict(sorted(reasons.items())))


def ratings(state: ReplayState, dimension: str) -> list[Ratings]:
    """Ratings per group of `dimension` (queue, tier, specialist), then ALL."""
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for rating in state.cases.ratings:
        if dimension == "specialist":
            group = rating.assignee or NOBODY
        else:
            group = getattr(rating, dimension) or UNKNOWN
        counts[group][rating.score] += 1
        counts[ALL][rating.score] += 1
    groups = sorted(g for g in counts if g != ALL) + ([ALL] if counts else [])
    return [
        Ratings(dimension, group, sum(counts[group].values()),
                # 1 to 5 always; any other score the stream held, too, rather than lose it.
                {score: counts[group][score] for score in sorted({*SCORES, *counts[group]})})
        for group in groups
    ]  # fmt: skip


def repeats(state: ReplayState) -> list[Repeats]:
    cases: Counter[str] = Counter()
    repeated: Counter[str] = Counter()
    for row in state.cases.rows.values():
        if not row["created_seen"]:
            continue
        for channel in (row["channel"], "ALL"):
            cases[channel] += 1
            repeated[channel] += bool(row["repeat_of"])
    return [Repeats(channel, cases[channel], repeated[channel]) for channel in sorted(cases)]


def _group(clock: dict[str, Any], cases: dict[str, dict[str, Any]], dimension: str) -> str:
    if dimension == "channel":
        return clock["channel"] or UNKNOWN
    if dimension == "week":
        started = clock["started_at"]
        if started is None:
            return UNKNOWN
        year, week, _ = from_micros(started).astimezone(MOSCOW).isocalendar()
        return f"{year}-W{week:02d}"
    case = cases.get(clock["case_id"])
    return (case[dimension] if case else "") or UNKNOWN
